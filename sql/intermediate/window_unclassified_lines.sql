-- Raw lines of a run's window minus classified lines of that window: zero when every extracted
-- line was classified exactly once.
select
    (select count(*) from raw.invoice_lines
     where (invoice_date >= %(window_start)s and invoice_date < %(window_end)s) or invoice_date is null)
  - (select count(*) from intermediate.int_invoice_lines_classified
     where (invoice_day >= %(window_start)s and invoice_day < %(window_end)s) or invoice_day is null)
    as unclassified_lines
