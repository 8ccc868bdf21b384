-- Fresh statistics for the run's new assignments (see analyze_window_models.sql), before the
-- migration count and the publish join them.
analyze internal.customer_assignments, internal.segment_centroids
