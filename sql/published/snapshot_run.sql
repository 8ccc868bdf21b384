-- The run that published a date (no row when the date is not published).
select run_id from segments.segmentation_runs where as_of_date = %(as_of_date)s
