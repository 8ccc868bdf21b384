-- Standardised segment profiles: per segment and published feature, the z-score of the segment's
-- mean of log1p(feature) against the snapshot's population mean and standard deviation of
-- log1p(feature). Negative values (a net-negative return rate) are floored at 0 before the log,
-- as the model's scaler does.
with members as (

    select *
    from segments.customer_segments
    where as_of_date = %(as_of_date)s

),

logged as (

    select
        members.segment_id,
        features.feature,
        features.position,
        ln(1 + greatest(features.value, 0)::float8)    as log_value
    from members
    cross join lateral (
        values
            ('recency_days',       1, members.recency_days::numeric),
            ('frequency_invoices', 2, members.frequency_invoices::numeric),
            ('monetary_revenue',   3, members.monetary_revenue),
            ('avg_order_revenue',  4, members.avg_order_revenue),
            ('items_per_order',    5, members.items_per_order),
            ('tenure_days',        6, members.tenure_days::numeric),
            ('return_rate',        7, members.return_rate),
            ('distinct_products',  8, members.distinct_products::numeric)
    ) as features (feature, position, value)

),

population as (

    select
        feature,
        avg(log_value)          as mean_log,
        stddev_pop(log_value)   as std_log
    from logged
    group by feature

),

segments as (

    select
        segment_id,
        feature,
        position,
        avg(log_value)          as mean_log
    from logged
    group by segment_id, feature, position

),

final as (

    select
        segments.segment_id,
        segments.feature,
        segments.position,
        coalesce((segments.mean_log - population.mean_log) / nullif(population.std_log, 0), 0) as z_score
    from segments
    join population using (feature)

)

select * from final
order by segment_id, position
