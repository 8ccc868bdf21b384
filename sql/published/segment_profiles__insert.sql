-- One row per segment of the snapshot: size, revenue and the mean and median of every feature.
insert into segments.segment_profiles

with members as (

    select *
    from segments.customer_segments
    where as_of_date = %(as_of_date)s

),

totals as (

    select count(*) as customers, sum(monetary_revenue) as revenue
    from members

),

final as (

    select
        %(as_of_date)s::date                                                        as as_of_date,
        members.segment_id,
        members.segment_name,
        -- size and value
        count(*)                                                                    as customers,
        round(count(*)::numeric / totals.customers, 4)                              as customer_share,
        round(sum(members.monetary_revenue), 2)                                     as revenue,
        round(sum(members.monetary_revenue) / nullif(totals.revenue, 0), 4)         as revenue_share,
        -- features: mean and median
        round(avg(recency_days), 2),
        round(percentile_cont(0.5) within group (order by recency_days)::numeric, 2),
        round(avg(frequency_invoices), 2),
        round(percentile_cont(0.5) within group (order by frequency_invoices)::numeric, 2),
        round(avg(monetary_revenue), 2),
        round(percentile_cont(0.5) within group (order by monetary_revenue)::numeric, 2),
        round(avg(avg_order_revenue), 2),
        round(percentile_cont(0.5) within group (order by avg_order_revenue)::numeric, 2),
        round(avg(items_per_order), 2),
        round(percentile_cont(0.5) within group (order by items_per_order)::numeric, 2),
        round(avg(tenure_days), 2),
        round(percentile_cont(0.5) within group (order by tenure_days)::numeric, 2),
        round(avg(return_rate), 4),
        round(percentile_cont(0.5) within group (order by return_rate)::numeric, 4),
        round(avg(distinct_products), 2),
        round(percentile_cont(0.5) within group (order by distinct_products)::numeric, 2),
        -- lineage
        %(run_id)s::text                                                            as run_id

    from members
    cross join totals
    group by members.segment_id, members.segment_name, totals.customers, totals.revenue

)

select * from final
