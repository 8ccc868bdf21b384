-- Per day before a date: line count and content hash of the lines as they were extracted.
select invoice_day, lines, content_hash
from internal.extracted_days
where invoice_day < %(before)s
