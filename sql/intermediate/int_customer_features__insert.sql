-- Per-customer features as of the snapshot date, from the customers' totals of the days strictly
-- before it (point in time: nothing dated on or after as_of_date is read): those of all history
-- when they cover exactly the days before it (a nightly run), else the run's own totals as of its
-- date (int_customer_totals__insert.sql). Rows belong to the run, so that runs of the same date
-- never overwrite each other's input.
insert into intermediate.int_customer_features (
    run_id, as_of_date, customer_id, recency_days, frequency_invoices, monetary_revenue, avg_order_revenue,
    items_per_order, tenure_days, return_rate, distinct_products, is_clusterable,
    country, first_purchase_date, last_purchase_date
)

with customers as (

    select *
    from intermediate.int_customer_totals
    where before_date = %(totals_before_date)s

),

final as (

    select
        %(run_id)s::text                                                         as run_id,
        %(as_of_date)s::date                                                     as as_of_date,
        customer_id,
        -- recency, frequency, monetary
        %(as_of_date)s::date - last_purchase_day                                 as recency_days,
        purchase_invoices                                                        as frequency_invoices,
        purchase_revenue - returned_revenue                                      as monetary_revenue,
        -- basket
        purchase_revenue / nullif(purchase_invoices, 0)                          as avg_order_revenue,
        units_purchased::numeric / nullif(purchase_invoices, 0)                  as items_per_order,
        -- relationship
        %(as_of_date)s::date - first_purchase_day                                as tenure_days,
        coalesce(returned_revenue / nullif(purchase_revenue, 0), 0)              as return_rate,
        distinct_products,
        -- only customers with a net purchase are segmented
        purchase_invoices > 0 and purchase_revenue - returned_revenue > 0        as is_clusterable,
        -- who the customer is
        country,
        first_purchase_day                                                       as first_purchase_date,
        last_purchase_day                                                        as last_purchase_date

    from customers

)

-- In key order: each entry of the primary key lands next to the one before instead of on a
-- random page (a million customers' features: 1.5 s -> 1.0 s).
select * from final
order by customer_id
