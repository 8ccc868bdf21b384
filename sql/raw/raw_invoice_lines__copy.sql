copy raw.invoice_lines (
    invoice_no, stock_code, description, quantity, invoice_date, unit_price, customer_id, country, extract_run_id
) from stdin (format binary)
