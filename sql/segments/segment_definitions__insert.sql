-- What each segment of the snapshot means: the model's definitions (name, value rank, sentence,
-- recommended action) and its centroid in original units, one column per feature (null for a
-- feature the model does not use).
insert into segments.segment_definitions

with centroids as (

    select
        segment_id,
        min(segment_name)                                                                 as segment_name,
        max(centroid_original) filter (where feature = 'recency_days')                    as centroid_recency_days,
        max(centroid_original) filter (where feature = 'frequency_invoices')              as centroid_frequency_invoices,
        max(centroid_original) filter (where feature = 'monetary_revenue')                as centroid_monetary_revenue,
        max(centroid_original) filter (where feature = 'avg_order_revenue')               as centroid_avg_order_revenue,
        max(centroid_original) filter (where feature = 'items_per_order')                 as centroid_items_per_order,
        max(centroid_original) filter (where feature = 'tenure_days')                     as centroid_tenure_days,
        max(centroid_original) filter (where feature = 'return_rate')                     as centroid_return_rate,
        max(centroid_original) filter (where feature = 'distinct_products')               as centroid_distinct_products
    from internal.segment_centroids
    where run_id = %(run_id)s
    group by segment_id

)

select
    %(as_of_date)s::date,
    definitions.segment_id,
    centroids.segment_name,
    definitions.value_rank,
    definitions.description,
    definitions.recommended_action,
    centroids.centroid_recency_days,
    centroids.centroid_frequency_invoices,
    centroids.centroid_monetary_revenue,
    centroids.centroid_avg_order_revenue,
    centroids.centroid_items_per_order,
    centroids.centroid_tenure_days,
    centroids.centroid_return_rate,
    centroids.centroid_distinct_products,
    %(run_id)s::text
from internal.segment_definitions as definitions
join centroids using (segment_id)
where definitions.run_id = %(run_id)s
