-- One centroid coordinate of a stored model, in scaled and original units.
insert into internal.segment_centroids (run_id, segment_id, segment_name, feature, centroid_scaled, centroid_original)
values (%(run_id)s, %(segment_id)s, %(segment_name)s, %(feature)s, %(centroid_scaled)s, %(centroid_original)s)
