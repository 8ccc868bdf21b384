-- Forget the line counts per class of the re-read window (and, with the undated pass, of the undated lines).
delete from intermediate.int_line_class_daily
where (invoice_day >= %(window_start)s and invoice_day < %(window_end)s)
   or (%(with_undated)s and invoice_day is null)
