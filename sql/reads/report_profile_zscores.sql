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

    -- Every published feature (the features parameter: settings.ALL_FEATURES, in order), read by name.
    select
        members.segment_id,
        features.feature,
        features.position,
        ln(1 + greatest((to_jsonb(members) ->> features.feature)::numeric, 0)::float8)   as log_value
    from members
    cross join lateral unnest(%(features)s::text[]) with ordinality as features (feature, position)

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
