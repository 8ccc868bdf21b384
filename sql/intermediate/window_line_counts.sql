-- Lines of the re-read window per class and reason: what this run extracted, accounted for.
select line_class, coalesce(exclusion_reason, '') as exclusion_reason, count(*) as lines
from intermediate.int_invoice_lines_classified
where (invoice_day >= %(window_start)s and invoice_day < %(window_end)s)
   or invoice_day is null
group by 1, 2
order by 1, 2
