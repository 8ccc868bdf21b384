-- Assign every segmentable customer of the snapshot to its nearest centroid, inside the
-- warehouse, from the stored model: log1p, clip, standardise, then squared distances.
insert into internal.customer_assignments (run_id, customer_id, segment_id)

-- The scaler is materialised: inlined, its JSON would be parsed again for every customer-feature
-- row (measured at 300,000 customers: 8.2 s of scoring instead of 5.1 s).
with scaler as materialized (

    select
        feature,
        (models.scaler -> 'clip_low' ->> (position - 1)::int)::float8   as clip_low,
        (models.scaler -> 'clip_high' ->> (position - 1)::int)::float8  as clip_high,
        (models.scaler -> 'mean' ->> (position - 1)::int)::float8       as mean,
        (models.scaler -> 'scale' ->> (position - 1)::int)::float8      as scale
    from internal.segment_models as models
    cross join lateral unnest(models.features) with ordinality as features (feature, position)
    where models.run_id = %(run_id)s

),

feature_values as (

    select customer_id, feature_value.feature, feature_value.value
    from intermediate.int_customer_features
    cross join lateral (values
        ('recency_days', recency_days::float8),
        ('frequency_invoices', frequency_invoices::float8),
        ('monetary_revenue', monetary_revenue::float8),
        ('avg_order_revenue', avg_order_revenue::float8),
        ('items_per_order', items_per_order::float8),
        ('tenure_days', tenure_days::float8),
        ('return_rate', return_rate::float8),
        ('distinct_products', distinct_products::float8)
    ) as feature_value (feature, value)
    where run_id = %(run_id)s and is_clusterable

),

scaled as (

    select
        feature_values.customer_id,
        feature_values.feature,
        (least(greatest(ln(1 + greatest(feature_values.value, 0)), scaler.clip_low), scaler.clip_high)
            - scaler.mean) / scaler.scale                                  as value_scaled
    from feature_values
    join scaler using (feature)

),

distances as (

    select
        scaled.customer_id,
        centroids.segment_id,
        sum((scaled.value_scaled - centroids.centroid_scaled) ^ 2)         as distance_squared
    from scaled
    join internal.segment_centroids as centroids
      on centroids.run_id = %(run_id)s and centroids.feature = scaled.feature
    group by scaled.customer_id, centroids.segment_id

),

nearest as (

    select distinct on (customer_id) customer_id, segment_id, distance_squared
    from distances
    order by customer_id, distance_squared, segment_id

)

select %(run_id)s::text, customer_id, segment_id
from nearest
