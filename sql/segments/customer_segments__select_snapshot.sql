-- Each customer's segment in one published snapshot.
select customer_id, segment_id
from segments.customer_segments
where as_of_date = %(as_of_date)s
