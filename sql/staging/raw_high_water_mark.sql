-- The newest invoice timestamp already extracted: where the next incremental extract resumes.
select max(invoice_date) as high_water_mark from raw.invoice_lines
