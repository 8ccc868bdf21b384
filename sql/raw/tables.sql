-- raw: source lines as extracted. Created idempotently before every run, like every *tables.sql.
create schema if not exists raw;

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
    extract_run_id text not null,
    extracted_at   timestamptz not null default now()
);
create index if not exists raw_invoice_lines_invoice_date_idx on raw.invoice_lines (invoice_date);
