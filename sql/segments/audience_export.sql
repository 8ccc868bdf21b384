-- The customers of one published snapshot (of the named segments, or all when none are named),
-- with their segment's definition, every feature and who they are: an audience for an e-mail or
-- ads tool. Only published tables: the read-only analyst role runs it.
select
    customers.customer_id,
    customers.segment_id,
    customers.segment_name,
    definitions.value_rank,
    definitions.description                 as segment_description,
    definitions.recommended_action,
    customers.country,
    customers.first_purchase_date,
    customers.last_purchase_date,
    -- every feature (settings.ALL_FEATURES)
    {features}
from segments.customer_segments as customers
join segments.segment_definitions as definitions using (as_of_date, segment_id)
where customers.as_of_date = %(as_of_date)s
  and (%(segments)s::text[] is null or customers.segment_name = any(%(segments)s::text[]))
order by definitions.value_rank, customers.monetary_revenue desc, customers.customer_id
