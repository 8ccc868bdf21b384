-- {source_columns}: settings.SOURCE_COLUMNS, the order source/select_invoice_lines_window.sql streams.
copy raw.invoice_lines ({source_columns}, extract_run_id) from stdin (format binary)
