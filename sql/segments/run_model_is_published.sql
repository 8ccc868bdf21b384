-- Whether the run's current model is the one published for the date: true after a publish that
-- committed; false again once the run retrains (a cleared task stores a newer model).
select exists (
    select
    from segments.segmentation_runs as runs
    join internal.segment_models as models using (run_id)
    where runs.as_of_date = %(as_of_date)s
      and runs.run_id = %(run_id)s
      and runs.published_at >= models.created_at
) as is_published
