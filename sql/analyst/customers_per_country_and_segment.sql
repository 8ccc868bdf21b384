-- Customers and net revenue per country and segment in the current snapshot, biggest markets first.
select
    customers.country,
    definitions.value_rank,
    customers.segment_name,
    count(*)                                as customers,
    sum(customers.monetary_revenue)         as revenue
from segments.customer_segments_current as customers
join segments.segment_definitions_current as definitions using (segment_id)
group by customers.country, definitions.value_rank, customers.segment_name
order by sum(count(*)) over (partition by customers.country) desc, customers.country, definitions.value_rank
