-- Forget the extracted lines of the re-read window (and undated lines) before copying them again.
delete from raw.invoice_lines
where (invoice_date >= %(window_start)s and invoice_date < %(window_end)s)
   or invoice_date is null
