-- Whether pruning deleted entries a reader from this transaction id on would need.
select coalesce(pruned_through_xid >= %(since_xmin)s::xid8, false) as pruned_past
from segments_capture.tracked_tables
where source_table = %(source_table)s
