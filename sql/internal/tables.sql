-- internal: pipeline state (extracted days, queues, models, assignments, run attempts).
create schema if not exists internal;

-- A warehouse from before content_hash fingerprinted each line's text form, which no longer
-- compares with the source's: forgetting the fingerprints makes the next run extract all history
-- again, as a first run does, instead of finding every day changed.
do $$
begin
    if exists (
        select from information_schema.columns
        where table_schema = 'internal' and table_name = 'extracted_days' and column_name = 'checksum'
    ) then
        drop table internal.extracted_days;
    end if;
end
$$;

-- Per extracted day: how many lines and which (an order-independent hash of their values), as
-- copied. Each run compares them with the source's days before its window to find changed history.
create table if not exists internal.extracted_days (
    invoice_day    date primary key,
    lines          bigint not null,
    content_hash   numeric not null,
    extract_run_id text not null,
    extracted_at   timestamptz not null default now()
);

-- Days whose raw lines changed since their models were rebuilt: the aggregates stage's queue.
create table if not exists internal.pending_days (
    invoice_day date primary key
);

-- Where the extract left off in the source's change capture (source/change_capture__install.sql):
-- the installation it read and the transaction id its next read starts from.
create table if not exists internal.source_change_capture (
    source_table    text primary key,
    installation_id text not null,
    read_from_xmin  text not null,
    read_at         timestamptz not null default now()
);

-- Days the change capture reported changed that no extract has re-read yet: days on or after the
-- snapshot of the run that read them (a backfill of an earlier date), kept for a later run.
create table if not exists internal.source_changed_days (
    invoice_day date primary key
);

-- Settings the views need: "today" is a day in the business timezone. One row, kept by the setup.
create table if not exists internal.warehouse_settings (
    business_timezone text not null,
    one_row           boolean primary key default true check (one_row)
);
-- Added after the first release: the Airflow page analysts open a snapshot's report on, and
-- the currency of the money columns.
alter table internal.warehouse_settings add column if not exists report_page_url text;
alter table internal.warehouse_settings add column if not exists currency text;

create table if not exists internal.segment_models (
    run_id            text primary key,
    as_of_date        date not null,
    k                 integer not null,
    features          text[] not null,
    scaler            jsonb not null,
    metrics           jsonb not null,
    k_selection       jsonb,
    training_customers integer not null,
    library_versions  jsonb not null,
    created_at        timestamptz not null default now()
);

create table if not exists internal.segment_centroids (
    run_id            text not null references internal.segment_models (run_id) on delete cascade,
    segment_id        integer not null,
    segment_name      text not null,
    feature           text not null,
    centroid_scaled   double precision not null,
    centroid_original double precision not null,
    primary key (run_id, segment_id, feature)
);

-- What each segment of a model means (pipeline/definitions.py), published with the snapshot.
create table if not exists internal.segment_definitions (
    run_id             text not null references internal.segment_models (run_id) on delete cascade,
    segment_id         integer not null,
    value_rank         integer not null,
    description        text not null,
    recommended_action text not null,
    primary key (run_id, segment_id)
);

-- Without a foreign key to segment_models: its check, a query per row, cost more than scoring
-- itself (0.94 s of 2.7 s at 305,000 customers). Only registry.store and registry.score_in_sql
-- write assignments, right after storing the run's model, and internal/segment_model__delete.sql
-- deletes them with it.
create table if not exists internal.customer_assignments (
    run_id      text not null,
    customer_id text not null,
    segment_id  integer not null,
    primary key (run_id, customer_id)
);
-- A warehouse from before drops the key once; checked first, because every release's setup runs
-- this, and an ALTER locks the table (against the runs reading it) even when there is nothing to drop.
do $$
begin
    if exists (
        select from pg_constraint
        where conrelid = 'internal.customer_assignments'::regclass and conname = 'customer_assignments_run_id_fkey'
    ) then
        alter table internal.customer_assignments drop constraint customer_assignments_run_id_fkey;
    end if;
end
$$;

create table if not exists internal.run_attempts (
    run_id      text not null,
    as_of_date  date not null,
    stage       text not null,
    status      text not null,
    detail      jsonb not null default '{}',
    recorded_at timestamptz not null default now(),
    primary key (run_id, stage)
);
