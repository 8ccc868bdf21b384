-- raw: source lines as extracted. Created idempotently by every setup, like every *tables.sql.
create schema if not exists raw;

-- A raw table from an earlier release, with the staging view over it (which the next setup file
-- recreates):
-- - from before customer_key, it is dropped: the next extract then finds it empty and re-extracts
--   all history, as after a crash (internal/extracted_days__forget_when_raw_is_empty.sql);
-- - from before this release, it loses extract_run_id. Which run extracted a line is kept per day
--   (internal.extracted_days), the same for every line of the day (undated lines are re-read by
--   every run); streaming it with every line took about 7 percent of an extract's time (10M lines,
--   with a run id as long as the bench's: 15.2-15.5 s -> 14.1-14.5 s).
do $$
begin
    if to_regclass('raw.invoice_lines') is null then
        return;
    end if;
    if not exists (
        select from pg_attribute
        where attrelid = to_regclass('raw.invoice_lines') and attname = 'customer_key' and not attisdropped
    ) then
        drop table raw.invoice_lines cascade;
    elsif exists (
        select from pg_attribute
        where attrelid = to_regclass('raw.invoice_lines') and attname = 'extract_run_id' and not attisdropped
    ) then
        drop view if exists staging.stg_invoice_lines;
        alter table raw.invoice_lines drop column extract_run_id;
    end if;
end
$$;

-- Unlogged: a crash empties it; the next run then forgets the extracted days' fingerprints
-- (internal/extracted_days__forget_when_raw_is_empty.sql), re-extracts all history and rebuilds
-- every incremental model from it. In exchange, bulk loads skip the WAL.
create unlogged table if not exists raw.invoice_lines (
    invoice_no     text,
    stock_code     text,
    description    text,
    quantity       integer,
    invoice_date   timestamp,
    unit_price     numeric(14, 4),
    customer_id    text,
    country        text,
    -- The customer id normalised once, at extract (source/select_invoice_lines_window.sql), and ''
    -- for a guest line: never null, so that a Citus warehouse can shard the lines by it, beside the
    -- customer's other rows. customer_id keeps the value as the source holds it.
    customer_key   text not null,
    extracted_at   timestamptz not null default now()
);
create index if not exists raw_invoice_lines_invoice_date_idx on raw.invoice_lines (invoice_date);
