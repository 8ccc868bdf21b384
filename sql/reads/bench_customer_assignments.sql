-- The segment of every customer a run assigned, to compare with the notebook's labels.
select customer_id, segment_id
from internal.customer_assignments
where run_id = %(run_id)s
