-- Per-customer totals of the daily aggregates dated before `before_date` (and from
-- `history_start` on): of every customer, or of those whose days were just rebuilt (the
-- of_customers fragment, aggregates.py). Features read one row per customer from here; the
-- totals of all history are kept current by the aggregates stage, so that a nightly run does not
-- re-read every customer-day of history.
insert into intermediate.int_customer_totals (
    before_date, customer_id, first_purchase_day, last_purchase_day, purchase_invoices,
    units_purchased, purchase_revenue, returned_revenue, distinct_products, country
)

with daily as (

    select *
    from intermediate.int_customer_daily
    where invoice_day < %(before_date)s and invoice_day >= %(history_start)s
      {of_customers}

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
    where invoice_day < %(before_date)s and invoice_day >= %(history_start)s
      {of_customers}
    group by customer_id, country
    order by customer_id, sum(purchase_lines) desc, country

),

products as (

    -- All history: the products each customer first bought before the date, one row per
    -- customer-day with a first purchase, not one per product-day.
    select customer_id, sum(new_products)::integer as distinct_products
    from intermediate.int_customer_new_products_daily
    where invoice_day < %(before_date)s and %(all_history)s
      {of_customers}
    group by customer_id

    union all

    -- A history window: the products bought inside it, counted from every product-day in it.
    select customer_id, count(distinct stock_code) as distinct_products
    from intermediate.int_customer_product_days
    where invoice_day < %(before_date)s and invoice_day >= %(history_start)s and not %(all_history)s
      {of_customers}
    group by customer_id

),

final as (

    select
        %(before_date)s::date                                    as before_date,
        customers.customer_id,
        customers.first_purchase_day,
        customers.last_purchase_day,
        customers.purchase_invoices,
        customers.units_purchased,
        customers.purchase_revenue,
        customers.returned_revenue,
        coalesce(products.distinct_products, 0)                  as distinct_products,
        countries.country

    from customers
    left join products using (customer_id)
    left join countries using (customer_id)

)

select * from final
