-- Lines of the re-read window per class and reason: what this run extracted, accounted for.
select line_class, coalesce(exclusion_reason, '') as exclusion_reason, sum(lines)::bigint as lines
from intermediate.int_line_class_daily
where (invoice_day >= %(window_start)s and invoice_day < %(window_end)s)
   or invoice_day is null
group by 1, 2
order by 1, 2
