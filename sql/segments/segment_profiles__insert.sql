-- One row per segment of the snapshot: size, revenue and the mean and median of every feature.
insert into segments.segment_profiles

with members as (

    select *
    from segments.customer_segments
    where as_of_date = %(as_of_date)s

),

per_segment as (

    select
        segment_id,
        segment_name,
        count(*)                                                                    as customers,
        sum(monetary_revenue)                                                       as revenue,
        -- features: mean and median
        round(avg(recency_days), 2)                                                 as mean_recency_days,
        round(percentile_cont(0.5) within group (order by recency_days)::numeric, 2) as median_recency_days,
        round(avg(frequency_invoices), 2)                                           as mean_frequency_invoices,
        round(percentile_cont(0.5) within group (order by frequency_invoices)::numeric, 2) as median_frequency_invoices,
        round(avg(monetary_revenue), 2)                                             as mean_monetary_revenue,
        round(percentile_cont(0.5) within group (order by monetary_revenue)::numeric, 2) as median_monetary_revenue,
        round(avg(avg_order_revenue), 2)                                            as mean_avg_order_revenue,
        round(percentile_cont(0.5) within group (order by avg_order_revenue)::numeric, 2) as median_avg_order_revenue,
        round(avg(items_per_order), 2)                                              as mean_items_per_order,
        round(percentile_cont(0.5) within group (order by items_per_order)::numeric, 2) as median_items_per_order,
        round(avg(tenure_days), 2)                                                  as mean_tenure_days,
        round(percentile_cont(0.5) within group (order by tenure_days)::numeric, 2) as median_tenure_days,
        round(avg(return_rate), 4)                                                  as mean_return_rate,
        round(percentile_cont(0.5) within group (order by return_rate)::numeric, 4) as median_return_rate,
        round(avg(distinct_products), 2)                                            as mean_distinct_products,
        round(percentile_cont(0.5) within group (order by distinct_products)::numeric, 2) as median_distinct_products

    from members
    group by segment_id, segment_name

),

final as (

    select
        %(as_of_date)s::date                                                        as as_of_date,
        segment_id,
        segment_name,
        -- size and value (shares over the k segments: no second pass over the customers)
        customers,
        round(customers::numeric / sum(customers) over (), 4)                       as customer_share,
        round(revenue, 2)                                                           as revenue,
        round(revenue / nullif(sum(revenue) over (), 0), 4)                         as revenue_share,
        mean_recency_days, median_recency_days,
        mean_frequency_invoices, median_frequency_invoices,
        mean_monetary_revenue, median_monetary_revenue,
        mean_avg_order_revenue, median_avg_order_revenue,
        mean_items_per_order, median_items_per_order,
        mean_tenure_days, median_tenure_days,
        mean_return_rate, median_return_rate,
        mean_distinct_products, median_distinct_products,
        -- lineage
        %(run_id)s::text                                                            as run_id

    from per_segment

)

select * from final
