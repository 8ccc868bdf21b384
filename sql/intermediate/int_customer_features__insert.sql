-- Per-customer features as of the snapshot date, from the daily aggregates strictly before it
-- (point in time: nothing dated on or after as_of_date is read). Rows belong to the run, so that
-- runs of the same date never overwrite each other's input.
insert into intermediate.int_customer_features (
    run_id, as_of_date, customer_id, recency_days, frequency_invoices, monetary_revenue, avg_order_revenue,
    items_per_order, tenure_days, return_rate, distinct_products, is_clusterable,
    country, first_purchase_date, last_purchase_date
)

with daily as (

    select *
    from intermediate.int_customer_daily
    where invoice_day < %(as_of_date)s and invoice_day >= %(history_start)s

),

customers as (

    select
        customer_id,
        min(invoice_day) filter (where purchase_invoices > 0)   as first_purchase_day,
        max(invoice_day) filter (where purchase_invoices > 0)   as last_purchase_day,
        sum(purchase_invoices)                                   as purchase_invoices,
        sum(units_purchased)                                     as units_purchased,
        sum(purchase_revenue)                                    as purchase_revenue,
        sum(returned_revenue)                                    as returned_revenue

    from daily
    group by customer_id

),

countries as (

    -- The country on most of the customer's purchase lines; ties go to the first by name.
    select distinct on (customer_id) customer_id, country
    from intermediate.int_customer_country_daily
    where invoice_day < %(as_of_date)s and invoice_day >= %(history_start)s
    group by customer_id, country
    order by customer_id, sum(purchase_lines) desc, country

),

products as (

    -- All history (the nightly case): the products each customer first bought before the
    -- snapshot, one row per customer-day with a first purchase, not one per product-day.
    select customer_id, sum(new_products)::integer as distinct_products
    from intermediate.int_customer_new_products_daily
    where invoice_day < %(as_of_date)s and %(all_history)s
    group by customer_id

    union all

    -- A history window: the products bought inside it, counted from every product-day in it.
    select customer_id, count(distinct stock_code) as distinct_products
    from intermediate.int_customer_product_days
    where invoice_day < %(as_of_date)s and invoice_day >= %(history_start)s and not %(all_history)s
    group by customer_id

),

final as (

    select
        %(run_id)s::text                                                         as run_id,
        %(as_of_date)s::date                                                     as as_of_date,
        customers.customer_id,
        -- recency, frequency, monetary
        %(as_of_date)s::date - customers.last_purchase_day                       as recency_days,
        customers.purchase_invoices                                              as frequency_invoices,
        customers.purchase_revenue - customers.returned_revenue                 as monetary_revenue,
        -- basket
        customers.purchase_revenue / nullif(customers.purchase_invoices, 0)     as avg_order_revenue,
        customers.units_purchased::numeric / nullif(customers.purchase_invoices, 0) as items_per_order,
        -- relationship
        %(as_of_date)s::date - customers.first_purchase_day                      as tenure_days,
        coalesce(customers.returned_revenue / nullif(customers.purchase_revenue, 0), 0) as return_rate,
        coalesce(products.distinct_products, 0)                                  as distinct_products,
        -- only customers with a net purchase are segmented
        customers.purchase_invoices > 0
            and customers.purchase_revenue - customers.returned_revenue > 0    as is_clusterable,
        -- who the customer is
        countries.country,
        customers.first_purchase_day                                             as first_purchase_date,
        customers.last_purchase_day                                              as last_purchase_date

    from customers
    left join products using (customer_id)
    left join countries using (customer_id)

)

select * from final
