-- Statistics of the source table after a bulk load, so that the first extract is planned on them.
analyze retail.invoice_lines
