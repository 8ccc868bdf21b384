-- The days holding extracted lines from one day to another: a day the aggregates need not
-- rebuild keeps the days around it in separate ranges only when it holds lines.
select invoice_day
from internal.extracted_days
where invoice_day between %(first_day)s and %(last_day)s
order by invoice_day
