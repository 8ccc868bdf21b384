-- The views analysts start from. "Current" is the latest published snapshot dated today or
-- earlier in the business timezone: a snapshot dated in the future is never current.
create or replace view internal.current_as_of_date as
select max(as_of_date) as as_of_date
from segments.segmentation_runs
where as_of_date <= (now() at time zone (select business_timezone from internal.warehouse_settings))::date;

create or replace view segments.customer_segments_current as
select *
from segments.customer_segments
where as_of_date = (select as_of_date from internal.current_as_of_date);
comment on view segments.customer_segments_current is 'Grain: one row per segmented customer of the latest published snapshot. Each customer''s segment and features.';

create or replace view segments.segment_profiles_current as
select *
from segments.segment_profiles
where as_of_date = (select as_of_date from internal.current_as_of_date);
comment on view segments.segment_profiles_current is 'Grain: one row per segment of the latest published snapshot. Size, revenue and the mean and median of every feature.';

create or replace view segments.segment_sizes_over_time as
select as_of_date, segment_id, segment_name, customers, customer_share, revenue, revenue_share
from segments.segment_profiles;
comment on view segments.segment_sizes_over_time is 'Grain: one row per snapshot date and segment. Customers and revenue of every segment over time: the trend chart.';

create or replace view segments.segment_definitions_current as
select *
from segments.segment_definitions
where as_of_date = (select as_of_date from internal.current_as_of_date);
comment on view segments.segment_definitions_current is 'Grain: one row per segment of the latest published snapshot. What each segment means and what to do with it; sort by value_rank.';

create or replace view segments.segment_migrations_current as
select *
from segments.segment_migrations
where as_of_date = (select as_of_date from internal.current_as_of_date);
comment on view segments.segment_migrations_current is 'Grain: one row per move (from segment, to segment) into the latest published snapshot. Customers and revenue moving since the snapshot before; join on the segment ids.';

create or replace view segments.customer_segment_history as

with history as (

    select
        customer_id,
        as_of_date,
        segment_id,
        segment_name,
        monetary_revenue,
        lag(as_of_date) over by_customer        as previous_as_of_date,
        lag(segment_name) over by_customer      as previous_segment_name
    from segments.customer_segments
    window by_customer as (partition by customer_id order by as_of_date)

)

select
    *,
    previous_segment_name is not null and previous_segment_name <> segment_name as changed_segment
from history;
comment on view segments.customer_segment_history is 'Grain: one row per customer and snapshot date. Each customer''s segment in every snapshot, with the segment of the snapshot before.';
comment on column segments.customer_segment_history.previous_as_of_date is 'The customer''s previous snapshot (null for the first).';
comment on column segments.customer_segment_history.previous_segment_name is 'The customer''s segment in that previous snapshot.';
comment on column segments.customer_segment_history.changed_segment is 'True when the segment differs from the previous snapshot''s.';

-- segmentation_runs serves operations (JSON, arrays, stage timings); BI tools get plain columns.
create or replace view segments.published_snapshots as
select
    runs.as_of_date,
    runs.as_of_date = (select as_of_date from internal.current_as_of_date)     as is_current,
    runs.k                                                                       as segments,
    runs.customers_segmented,
    runs.customers_excluded,
    runs.customers_changed_segment,
    (models.metrics ->> 'changed_segment_share')::double precision               as changed_segment_share,
    runs.silhouette,
    runs.davies_bouldin,
    runs.lines_in_snapshot,
    runs.lines_used,
    runs.lines_excluded,
    runs.lines_quarantined,
    runs.predecessor_as_of_date,
    runs.published_at,
    settings.report_page_url || '?as_of=' || runs.as_of_date::text              as report_url,
    runs.bootstrap_stability
from segments.segmentation_runs as runs
left join internal.segment_models as models using (run_id)
cross join internal.warehouse_settings as settings;
comment on view segments.published_snapshots is 'Grain: one row per published snapshot (as_of_date). What each snapshot is: segments, customers, quality, lines and where to read its report. Flat columns for BI tools; segmentation_runs keeps the operational detail.';
comment on column segments.published_snapshots.is_current is 'True for the snapshot the _current views show (the latest dated today or earlier).';
comment on column segments.published_snapshots.segments is 'Number of segments (k) of the snapshot''s model.';
comment on column segments.published_snapshots.changed_segment_share is 'Customers who changed segment since the predecessor, as a share (0 to 1) of the customers in both snapshots (null after a fresh start).';
comment on column segments.published_snapshots.report_url is 'The snapshot''s report on the Customer segments page in Airflow (log in to Airflow to open it).';

-- View columns say what the table columns they come from say.
do $$
declare
    target record;
begin
    for target in
        select
            views.relname        as view_name,
            view_columns.attname as column_name,
            (
                select col_description(base_columns.attrelid, base_columns.attnum)
                from pg_attribute as base_columns
                join pg_class as bases on bases.oid = base_columns.attrelid
                where bases.relnamespace = 'segments'::regnamespace
                  and bases.relname in ('customer_segments', 'segment_profiles', 'segment_definitions', 'segment_migrations',
                                        'segmentation_runs')
                  and base_columns.attname = view_columns.attname
                -- the table the view is named after first, then the main table
                order by views.relname like bases.relname || '%' desc,
                         array_position(array['customer_segments', 'segment_profiles', 'segment_definitions', 'segment_migrations',
                                              'segmentation_runs'],
                                        bases.relname::text)
                limit 1
            )                    as description
        from pg_class as views
        join pg_attribute as view_columns on view_columns.attrelid = views.oid and view_columns.attnum > 0
        where views.relnamespace = 'segments'::regnamespace
          and views.relkind = 'v'
          and col_description(views.oid, view_columns.attnum) is null
    loop
        if target.description is not null then
            execute format('comment on column segments.%I.%I is %L', target.view_name, target.column_name, target.description);
        end if;
    end loop;
end
$$;
