-- Fresh statistics for the snapshot's new feature rows (see analyze_window_models.sql), of the
-- columns later statements filter and join on: the feature columns cost most of a full ANALYZE
-- (each sorted from the sample) and no plan reads them. A column list leaves autovacuum's count
-- of changed rows standing, so it still refreshes every column later.
analyze intermediate.int_customer_features (run_id, customer_id, is_clusterable)
