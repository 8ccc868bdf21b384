-- Stream the source lines of a range of days (and, with the re-read window, the undated lines)
-- in the contract's types, with each line's customer key (raw/tables.sql): the customer id
-- without surrounding spaces or the ".0" of ids exported from spreadsheets ("17850.0"), '' for none.
copy (
    select
        invoice_no::text,
        stock_code::text,
        description::text,
        quantity::integer,
        invoice_date::timestamp,
        unit_price::numeric(14, 4),
        customer_id::text,
        country::text,
        coalesce(nullif(regexp_replace(trim(customer_id::text), '\.0+$', ''), ''), '') as customer_key
    from {source_table}
    where (invoice_date >= %(window_start)s and invoice_date < %(window_end)s)
       or (%(with_undated)s and invoice_date is null)
) to stdout (format binary)
