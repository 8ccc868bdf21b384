-- Customers moving between segments since the previous published snapshot.
select
    previous_as_of_date,
    from_segment_name,
    to_segment_name,
    customers,
    revenue
from segments.segment_migrations
where as_of_date = %(as_of_date)s
order by from_segment_name, to_segment_name
