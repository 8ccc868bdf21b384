-- Remember where the snapshot's report was written, if the run is still the published one.
update segments.segmentation_runs
set report_path = %(report_path)s
where as_of_date = %(as_of_date)s and run_id = %(run_id)s
