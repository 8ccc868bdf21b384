-- Forget the previous range's classified lines.
truncate pg_temp.int_invoice_lines_classified
