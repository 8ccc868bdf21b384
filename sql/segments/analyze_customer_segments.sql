-- Statistics that include the snapshot's rows just written (inside the publishing transaction), so
-- the profile and migration queries after this plan for its real size, not for one row:
-- of the columns they filter, join and group on (the feature columns cost most of a full
-- ANALYZE). A column list leaves autovacuum's count of changed rows standing, so it still
-- refreshes every column, those analysts filter on included, soon after the publish.
analyze segments.customer_segments (as_of_date, customer_id, segment_id, segment_name)
