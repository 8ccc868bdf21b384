-- Each segmented customer of the snapshot, with its segment and the features behind it.
insert into segments.customer_segments (
    as_of_date, customer_id, segment_id, segment_name, recency_days, frequency_invoices, monetary_revenue,
    avg_order_revenue, items_per_order, tenure_days, return_rate, distinct_products, run_id,
    country, first_purchase_date, last_purchase_date
)

with features as (

    select *
    from intermediate.int_customer_features
    where run_id = %(run_id)s and is_clusterable

),

assignments as (

    select customer_id, segment_id
    from internal.customer_assignments
    where run_id = %(run_id)s

),

segment_names as (

    select distinct segment_id, segment_name
    from internal.segment_centroids
    where run_id = %(run_id)s

),

final as (

    select
        features.as_of_date,
        features.customer_id,
        -- segment
        assignments.segment_id,
        segment_names.segment_name,
        -- features
        features.recency_days,
        features.frequency_invoices,
        round(features.monetary_revenue, 2)     as monetary_revenue,
        round(features.avg_order_revenue, 2)    as avg_order_revenue,
        round(features.items_per_order, 2)      as items_per_order,
        features.tenure_days,
        round(features.return_rate, 4)          as return_rate,
        features.distinct_products,
        -- lineage
        %(run_id)s::text                        as run_id,
        -- who the customer is
        features.country,
        features.first_purchase_date,
        features.last_purchase_date

    from features
    join assignments using (customer_id)
    join segment_names using (segment_id)

)

-- In key order: each entry of the primary key lands next to the one before instead of on a
-- random page (a million customers: 1.8 s -> 0.8 s).
select * from final
order by customer_id
