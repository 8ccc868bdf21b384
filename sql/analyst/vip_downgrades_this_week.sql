-- Who moved from VIP Premium to a lower segment over the last week, and the revenue they represent.
with latest as (

    select max(as_of_date) as as_of_date
    from segments.segment_profiles_current

),

week_before as (

    select coalesce(
        max(as_of_date) filter (where as_of_date <= (select as_of_date from latest) - 7),
        min(as_of_date)
    ) as as_of_date
    from segments.segmentation_runs

),

final as (

    select
        now_segments.customer_id,
        now_segments.segment_name          as segment_now,
        now_segments.monetary_revenue      as revenue,
        now_segments.recency_days,
        then_segments.as_of_date           as vip_on,
        now_segments.as_of_date            as downgraded_by
    from segments.customer_segments as then_segments
    join segments.customer_segments as now_segments using (customer_id)
    where then_segments.as_of_date = (select as_of_date from week_before)
      and now_segments.as_of_date = (select as_of_date from latest)
      and then_segments.segment_name = 'VIP Premium'
      and now_segments.segment_name <> 'VIP Premium'

)

select * from final
order by revenue desc
