-- Days the invoice table's writes touched since a transaction id (every_day: it was truncated).
select invoice_day, bool_or(every_day) as every_day
from segments_capture.changed_days
where source_table = %(source_table)s
  and changed_by_xid >= %(since_xmin)s::xid8
group by invoice_day
