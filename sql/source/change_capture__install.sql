-- Change capture in the source (opt-in, `segments source-capture install`): statement triggers
-- on the invoice table log which days each write touched, with the writing transaction's id, so
-- that a nightly extract reads the days changed since the last one instead of fingerprinting
-- every day of history. The log holds days only, never line values.
create schema if not exists segments_capture;

create table if not exists segments_capture.tracked_tables (
    source_table    text primary key,
    -- A new id on every install: a warehouse that read an earlier installation's log cannot
    -- trust it to be complete, and verifies every day by fingerprint once.
    installation_id uuid not null default gen_random_uuid(),
    installed_at    timestamptz not null default now(),
    -- The newest transaction whose entries `segments source-capture prune` deleted: a warehouse
    -- whose read position is not past it may have lost entries, and fingerprints once.
    pruned_through_xid xid8
);

create table if not exists segments_capture.changed_days (
    source_table   text not null,
    -- null with every_day: a TRUNCATE, which changes every day at once.
    invoice_day    date,
    every_day      boolean not null default false,
    changed_by_xid xid8 not null default pg_current_xact_id(),
    changed_at     timestamptz not null default now()
);
-- An extract reads the entries of transactions it has not seen: a range on the transaction id.
create index if not exists changed_days_by_xid_idx on segments_capture.changed_days (source_table, changed_by_xid);

-- Runs as its owner, so that whoever may write invoice lines need not be granted the log.
create or replace function segments_capture.log_changed_days() returns trigger
language plpgsql security definer set search_path = pg_catalog, pg_temp as $$
declare
    tracked constant text := tg_table_schema || '.' || tg_table_name;
begin
    if tg_op = 'TRUNCATE' then
        insert into segments_capture.changed_days (source_table, every_day) values (tracked, true);
    elsif tg_op = 'INSERT' then
        insert into segments_capture.changed_days (source_table, invoice_day)
        select distinct tracked, invoice_date::date from new_lines where invoice_date is not null;
    elsif tg_op = 'DELETE' then
        insert into segments_capture.changed_days (source_table, invoice_day)
        select distinct tracked, invoice_date::date from old_lines where invoice_date is not null;
    else
        insert into segments_capture.changed_days (source_table, invoice_day)
        select tracked, invoice_day from (
            select invoice_date::date as invoice_day from old_lines
            union
            select invoice_date::date from new_lines
        ) as touched
        where invoice_day is not null;
    end if;
    return null;
end
$$;

-- The extract's reader needs to see the log; it holds no line values.
grant usage on schema segments_capture to public;
grant select on all tables in schema segments_capture to public;
