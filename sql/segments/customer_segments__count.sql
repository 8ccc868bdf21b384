-- Customer rows of a snapshot, checked against the run's count before its publish commits.
select count(*) as customers from segments.customer_segments where as_of_date = %(as_of_date)s
