-- Customers and revenue moving between segments since an earlier snapshot: the one the
-- snapshot's model continues when publishing (no rows after a fresh start), or, after that one
-- was withdrawn, the latest snapshot still published before it.
-- Revenue is the customer's net revenue in this snapshot (in the previous one for customers
-- no longer segmented). Segment ids are stable along a chain of snapshots, so moves are keyed by
-- them; the names (with "(new)" and "(not segmented)") are for reading.
insert into segments.segment_migrations (
    as_of_date, previous_as_of_date, from_segment_name, to_segment_name, customers, revenue,
    from_segment_id, to_segment_id, is_new_customer, is_lost_customer
)

with before as (

    select customer_id, segment_id, segment_name, monetary_revenue
    from segments.customer_segments
    where as_of_date = %(previous_as_of_date)s

),

after as (

    select customer_id, segment_id, segment_name, monetary_revenue
    from segments.customer_segments
    where as_of_date = %(as_of_date)s

),

moves as (

    select
        before.segment_id                                               as from_segment_id,
        after.segment_id                                                as to_segment_id,
        coalesce(before.segment_name, '(new)')                          as from_segment_name,
        coalesce(after.segment_name, '(not segmented)')                 as to_segment_name,
        coalesce(after.monetary_revenue, before.monetary_revenue)       as revenue
    from before
    full join after using (customer_id)

),

final as (

    select
        %(as_of_date)s::date                    as as_of_date,
        %(previous_as_of_date)s::date           as previous_as_of_date,
        from_segment_name,
        to_segment_name,
        count(*)                                as customers,
        round(sum(revenue), 2)                  as revenue,
        from_segment_id,
        to_segment_id,
        from_segment_id is null                 as is_new_customer,
        to_segment_id is null                   as is_lost_customer
    from moves
    group by from_segment_id, to_segment_id, from_segment_name, to_segment_name

)

select * from final
where previous_as_of_date is not null
