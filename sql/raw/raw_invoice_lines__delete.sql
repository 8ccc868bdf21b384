-- Forget the extracted lines of a range of days (and, with the re-read window, the undated
-- lines) before copying them again.
delete from raw.invoice_lines
where (invoice_date >= %(window_start)s and invoice_date < %(window_end)s)
   or (%(with_undated)s and invoice_date is null)
