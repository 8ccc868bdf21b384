-- The source_columns placeholder lists settings.SOURCE_COLUMNS, in the order source/select_invoice_lines_window.sql streams.
copy raw.invoice_lines ({source_columns}, customer_key) from stdin (format binary)
