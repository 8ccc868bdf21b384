-- The newest day already extracted: where the next incremental extract resumes.
select max(invoice_day) as high_water_mark from internal.extracted_days
