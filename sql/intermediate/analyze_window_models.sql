-- Fresh statistics after a bulk rewrite: without them the planner takes a new day's rows for a
-- handful and picks nested loops that run for hours.
analyze raw.invoice_lines, intermediate.int_invoice_lines_classified, intermediate.int_customer_daily,
    intermediate.int_customer_product_days, intermediate.int_line_class_daily
