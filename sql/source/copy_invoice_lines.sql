-- The source_columns placeholder lists settings.SOURCE_COLUMNS, in the order of the COPY text the loader writes.
copy retail.invoice_lines ({source_columns})
from stdin
