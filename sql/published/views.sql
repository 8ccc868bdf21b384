-- The views analysts start from.
create or replace view segments.customer_segments_current as
select *
from segments.customer_segments
where as_of_date = (select max(as_of_date) from segments.segmentation_runs);

create or replace view segments.segment_profiles_current as
select *
from segments.segment_profiles
where as_of_date = (select max(as_of_date) from segments.segmentation_runs);
