-- Fresh statistics for the snapshot's new feature rows (see analyze_window_models.sql).
analyze intermediate.int_customer_features
