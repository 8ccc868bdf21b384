copy internal.customer_assignments (run_id, customer_id, segment_id) from stdin
