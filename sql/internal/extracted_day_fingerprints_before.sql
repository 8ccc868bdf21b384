-- Per day before a date: line count and checksum of the lines as they were extracted.
select invoice_day, lines, checksum
from internal.extracted_days
where invoice_day < %(before)s
