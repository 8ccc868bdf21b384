-- Forget the previous range's classified lines (the next range creates them from its query).
drop table if exists pg_temp.int_invoice_lines_classified
