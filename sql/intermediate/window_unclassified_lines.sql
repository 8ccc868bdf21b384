-- Raw lines of a run's window minus the lines the ledger counts for that window: zero when every
-- extracted line was classified exactly once.
select
    ((select count(*) from raw.invoice_lines
     where (invoice_date >= %(window_start)s and invoice_date < %(window_end)s) or invoice_date is null)
  - (select coalesce(sum(lines), 0) from intermediate.int_line_class_daily
     where (invoice_day >= %(window_start)s and invoice_day < %(window_end)s) or invoice_day is null)
    )::bigint as unclassified_lines
