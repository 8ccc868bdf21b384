-- Extracted invoice lines, renamed and cast; one row per raw line, nothing filtered.
create schema if not exists staging;

create or replace view staging.stg_invoice_lines as

with source as (

    select * from raw.invoice_lines

),

renamed as (

    select
        -- ids
        nullif(trim(invoice_no), '')                                    as invoice_no,
        nullif(trim(stock_code), '')                                    as stock_code,
        -- normalised at extract (raw/tables.sql); '' stands for no customer there
        nullif(customer_key, '')                                        as customer_id,
        customer_key,
        -- descriptive
        description,
        country,
        -- numerics
        quantity,
        unit_price,
        quantity * unit_price                                           as line_revenue,
        -- timestamps (shop-local time)
        invoice_date                                                    as invoiced_at,
        invoice_date::date                                              as invoice_day,
        -- flags
        coalesce(trim(invoice_no) like 'C%', false)                     as is_cancellation

    from source

)

select * from renamed
