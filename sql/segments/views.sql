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
comment on view segments.customer_segments_current is 'Each customer''s segment in the latest published snapshot.';

create or replace view segments.segment_profiles_current as
select *
from segments.segment_profiles
where as_of_date = (select as_of_date from internal.current_as_of_date);
comment on view segments.segment_profiles_current is 'Segment profiles of the latest published snapshot.';

create or replace view segments.segment_sizes_over_time as
select as_of_date, segment_id, segment_name, customers, customer_share, revenue, revenue_share
from segments.segment_profiles;
comment on view segments.segment_sizes_over_time is 'Customers and revenue of every segment in every snapshot: the trend chart.';

create or replace view segments.segment_migrations_current as
select *
from segments.segment_migrations
where as_of_date = (select as_of_date from internal.current_as_of_date);
comment on view segments.segment_migrations_current is 'Moves between segments from the previous snapshot to the latest one.';

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
comment on view segments.customer_segment_history is 'Each customer''s segment in every snapshot, with the segment of the snapshot before.';
comment on column segments.customer_segment_history.previous_as_of_date is 'The customer''s previous snapshot (null for the first).';
comment on column segments.customer_segment_history.previous_segment_name is 'The customer''s segment in that previous snapshot.';
comment on column segments.customer_segment_history.changed_segment is 'True when the segment differs from the previous snapshot''s.';

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
                  and bases.relname in ('customer_segments', 'segment_profiles', 'segment_migrations')
                  and base_columns.attname = view_columns.attname
                -- the table the view is named after first, then the main table
                order by views.relname like bases.relname || '%' desc,
                         array_position(array['customer_segments', 'segment_profiles', 'segment_migrations'], bases.relname::text)
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
