-- Per day before a date: the source's line count and an order-independent checksum of its lines,
-- computed over the values exactly as the extract casts them (select_invoice_lines_window.sql),
-- so that it equals the checksum of the same lines in the warehouse.
select
    invoice_date::date                                   as invoice_day,
    count(*)                                             as lines,
    sum(hashtextextended(row(
        invoice_no::text, stock_code::text, description::text, quantity::integer,
        invoice_date::timestamp, unit_price::numeric(14, 4), customer_id::text, country::text
    )::text, 0))                                         as checksum
from {source_table}
where invoice_date < %(before)s
group by 1
