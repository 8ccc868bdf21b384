-- Forget the classified lines of the re-read window (and the undated lines, re-read every run).
delete from intermediate.int_invoice_lines_classified
where (invoice_day >= %(window_start)s and invoice_day < %(window_end)s)
   or invoice_day is null
