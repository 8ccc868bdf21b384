-- Lines and revenue per day, class and reason: the ledger that accounts for every line.
insert into intermediate.int_line_class_daily (invoice_day, line_class, exclusion_reason, lines, line_revenue)
select
    invoice_day,
    line_class,
    exclusion_reason,
    count(*)                          as lines,
    coalesce(sum(line_revenue), 0)    as line_revenue
from pg_temp.int_invoice_lines_classified
where (invoice_day >= %(window_start)s and invoice_day < %(window_end)s)
   or (%(with_undated)s and invoice_day is null)
group by invoice_day, line_class, exclusion_reason
