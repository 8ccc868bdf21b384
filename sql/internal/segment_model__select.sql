-- A stored model, with its centroids in segment-id and feature order.
select
    models.scaler,
    models.metrics,
    centroids.segment_id,
    centroids.segment_name,
    centroids.feature,
    centroids.centroid_scaled
from internal.segment_models as models
join internal.segment_centroids as centroids using (run_id)
where models.run_id = %(run_id)s
order by centroids.segment_id, array_position(models.features, centroids.feature)
