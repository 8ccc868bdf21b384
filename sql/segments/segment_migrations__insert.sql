-- Customers and revenue moving between segments since the snapshot's predecessor (the one its
-- model continues, recorded with the model; no rows after a fresh start).
-- Revenue is the customer's net revenue in this snapshot (in the previous one for customers
-- no longer segmented).
insert into segments.segment_migrations

with previous as (

    select (metrics ->> 'predecessor_as_of_date')::date as as_of_date
    from internal.segment_models
    where run_id = %(run_id)s

),

before as (

    select customer_id, segment_name, monetary_revenue
    from segments.customer_segments
    where as_of_date = (select as_of_date from previous)

),

after as (

    select customer_id, segment_name, monetary_revenue
    from segments.customer_segments
    where as_of_date = %(as_of_date)s

),

moves as (

    select
        coalesce(before.segment_name, '(new)')                          as from_segment_name,
        coalesce(after.segment_name, '(not segmented)')                 as to_segment_name,
        coalesce(after.monetary_revenue, before.monetary_revenue)       as revenue
    from before
    full join after using (customer_id)

),

final as (

    select
        %(as_of_date)s::date                    as as_of_date,
        (select as_of_date from previous)       as previous_as_of_date,
        from_segment_name,
        to_segment_name,
        count(*)                                as customers,
        round(sum(revenue), 2)                  as revenue
    from moves
    group by from_segment_name, to_segment_name

)

select * from final
where previous_as_of_date is not null
