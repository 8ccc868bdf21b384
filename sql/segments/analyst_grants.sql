-- The BI tools' read-only role may read the published schema and nothing else. The role itself
-- is created by the database's administrator (or `segments db start` locally); without it,
-- there is nothing to grant. Runs under warehouse.ensure_schema's advisory lock: simultaneous
-- GRANTs on one object would fail with "tuple concurrently updated".
do $$
begin
    if exists (select from pg_roles where rolname = 'segments_analyst') then
        execute format('grant connect on database %I to segments_analyst', current_database());
        grant usage on schema segments to segments_analyst;
        grant select on all tables in schema segments to segments_analyst;
        alter default privileges in schema segments grant select on tables to segments_analyst;
    end if;
end
$$;
