-- What each segment of the current snapshot means and what marketing should do with it, most
-- valuable first.
select value_rank, segment_name, description, recommended_action
from segments.segment_definitions_current
order by value_rank
