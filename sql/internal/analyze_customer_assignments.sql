-- Fresh statistics for the run's new assignments (see analyze_window_models.sql).
analyze internal.customer_assignments, internal.segment_centroids
