-- The classified lines of one range of days, for the aggregates built from them; dropped with the
-- transaction (or by int_invoice_lines_classified__drop.sql before the next range). No index:
-- every reader scans the whole range. The raw lines stay the record of every line;
-- int_line_class_daily accounts for each by class and reason.
-- Classify every line of the re-read window exactly once:
-- invalid (quarantined, with its reason) > duplicate > no_customer > non_product > return > purchase.
-- Created from the query (an INSERT never runs in parallel): the server may read, stage and sort a
-- long range with parallel workers, and it writes the rows in bulk (a first run's 10M lines:
-- 21.7 s inserted into the table created before, 16.1 s created from the query; 19.6 s without
-- the workers).
create temp table int_invoice_lines_classified on commit drop as

with lines as (

    select *
    from staging.stg_invoice_lines
    where (invoiced_at >= %(window_start)s and invoiced_at < %(window_end)s)
       or (%(with_undated)s and invoiced_at is null)

),

flagged as (

    select
        *,
        coalesce(
            stock_code = any(%(non_product_codes)s) or stock_code like any(%(non_product_patterns)s),
            false
        )                                                                   as is_non_product

    from lines

),

validated as (

    select
        *,
        case
            when invoiced_at is null then 'missing invoice date'
            when invoice_no is null then 'missing invoice number'
            when stock_code is null then 'missing stock code'
            when quantity is null or quantity = 0 then 'missing or zero quantity'
            when unit_price is null then 'missing unit price'
            when abs(quantity) >= %(max_abs_quantity)s then 'absurd quantity'
            when unit_price >= %(max_unit_price)s then 'absurd unit price'
            when unit_price < 0 then 'negative unit price'
            when unit_price = 0 and not is_non_product then 'zero unit price'
            when not is_cancellation and quantity < 0 then 'negative quantity on a sale'
            when is_cancellation and quantity > 0 then 'positive quantity on a cancellation'
        end                                                                 as invalid_reason

    from flagged

),

numbered as (

    select
        *,
        -- customer_key, not customer_id (the same partitions: '' stands for no customer): Citus
        -- numbers the duplicates on each shard when the partition holds the shard key.
        -- Ordered by what a line says of itself, the same for every copy of it: which only makes
        -- the server compute it as its parallel workers read and sort the lines, not in one
        -- process after the copies are numbered (the bench's 10M-line first run: 18.4-20.4 s -> 12.9 s).
        row_number() over (
            partition by invoice_no, stock_code, description, quantity, invoiced_at,
                         unit_price, customer_key, country
            order by is_non_product, invalid_reason
        )                                                                   as occurrence

    from validated

),

final as (

    select
        invoice_no,
        stock_code,
        customer_id,
        quantity,
        unit_price,
        line_revenue,
        invoiced_at,
        invoice_day,
        case
            when invalid_reason is not null then 'invalid'
            when occurrence > 1 then 'duplicate'
            when customer_id is null then 'no_customer'
            when is_non_product then 'non_product'
            when is_cancellation then 'return'
            else 'purchase'
        end                                                                 as line_class,
        case
            when invalid_reason is not null then invalid_reason
            when occurrence > 1 then 'exact duplicate of another line'
            when customer_id is null then 'no customer id'
            when is_non_product then 'non-product stock code'
        end                                                                 as exclusion_reason,
        country

    from numbered

)

select * from final
;

-- Statistics for the aggregates' plans (a temporary table has none, and autovacuum never sees it),
-- of the columns they filter, group and join on: the amounts and timestamps cost most of a full
-- ANALYZE and no plan reads them.
analyze pg_temp.int_invoice_lines_classified (invoice_day, customer_id, invoice_no, stock_code, line_class, exclusion_reason, country)
