-- Forget the classified lines of the re-read window (and, with the undated pass, the undated lines).
delete from intermediate.int_invoice_lines_classified
where (invoice_day >= %(window_start)s and invoice_day < %(window_end)s)
   or (%(with_undated)s and invoice_day is null)
