-- {source_columns}: settings.SOURCE_COLUMNS, the order of the COPY text the loader writes.
copy retail.invoice_lines ({source_columns})
from stdin
