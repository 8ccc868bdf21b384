-- Per day before a date: the source's line count and an order-independent hash of its lines,
-- over the values exactly as the extract casts them (select_invoice_lines_window.sql), so that it
-- equals the hash of the same lines in the warehouse. hash_record_extended hashes each value in
-- its own type, without formatting it as text: the check reads all history every night.
select
    invoice_date::date                                   as invoice_day,
    count(*)                                             as lines,
    sum(hash_record_extended(row(
        invoice_no::text, stock_code::text, description::text, quantity::integer,
        invoice_date::timestamp, unit_price::numeric(14, 4), customer_id::text, country::text
    ), 0))                                               as content_hash
from {source_table}
where invoice_date < %(before)s
group by 1
