-- What each segment of a snapshot means, most valuable first.
select segment_id, segment_name, value_rank, description, recommended_action
from segments.segment_definitions
where as_of_date = %(as_of_date)s
order by value_rank
