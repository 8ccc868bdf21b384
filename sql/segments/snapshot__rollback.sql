-- Withdraw a published snapshot from every published table; the one before becomes current.
-- The last statement's row count tells whether the date was published at all.
delete from segments.customer_segments where as_of_date = %(as_of_date)s;
delete from segments.segment_profiles where as_of_date = %(as_of_date)s;
delete from segments.segment_definitions where as_of_date = %(as_of_date)s;
delete from segments.segment_migrations where as_of_date = %(as_of_date)s;
delete from segments.line_accounting where as_of_date = %(as_of_date)s;
delete from segments.segmentation_runs where as_of_date = %(as_of_date)s
