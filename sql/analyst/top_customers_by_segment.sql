-- The ten customers with the most net revenue in each segment of the current snapshot.
with ranked as (

    select
        segment_name,
        customer_id,
        monetary_revenue,
        frequency_invoices,
        recency_days,
        row_number() over (partition by segment_name order by monetary_revenue desc, customer_id) as revenue_rank
    from segments.customer_segments_current

)

select * from ranked
where revenue_rank <= 10
order by segment_name, revenue_rank
