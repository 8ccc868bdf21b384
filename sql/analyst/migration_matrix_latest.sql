-- Customers and revenue moving between segments into the current snapshot.
select from_segment_name, to_segment_name, customers, revenue
from segments.segment_migrations_current
order by from_segment_name, to_segment_name
