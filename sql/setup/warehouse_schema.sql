-- Warehouse tables, created idempotently before every run.
-- Layers: raw (lines as extracted) -> staging (views: rename, cast) -> intermediate (incremental
-- models) -> internal (model state) -> segments (the published contract analysts query).
create schema if not exists raw;
create schema if not exists staging;
create schema if not exists intermediate;
create schema if not exists internal;
create schema if not exists segments;

-- Unlogged: a crash empties it, and the next run, finding no high-water mark, re-extracts all
-- history and rebuilds every incremental model from it. In exchange, bulk loads skip the WAL.
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

-- Unlogged like raw.invoice_lines, from which it is rebuilt.
create unlogged table if not exists intermediate.int_invoice_lines_classified (
    invoice_no       text,
    stock_code       text,
    customer_id      text,
    quantity         integer,
    unit_price       numeric(14, 4),
    line_revenue     numeric(18, 4),
    invoiced_at      timestamp,
    invoice_day      date,
    line_class       text not null,
    exclusion_reason text
);
create index if not exists int_invoice_lines_classified_day_idx on intermediate.int_invoice_lines_classified (invoice_day);

create table if not exists intermediate.int_customer_daily (
    customer_id       text not null,
    invoice_day       date not null,
    purchase_invoices integer not null,
    purchase_lines    integer not null,
    units_purchased   bigint not null,
    purchase_revenue  numeric(18, 4) not null,
    return_invoices   integer not null,
    units_returned    bigint not null,
    returned_revenue  numeric(18, 4) not null,
    primary key (invoice_day, customer_id)
);

create table if not exists intermediate.int_customer_product_days (
    customer_id text not null,
    stock_code  text not null,
    invoice_day date not null,
    primary key (invoice_day, customer_id, stock_code)
);

create table if not exists intermediate.int_line_class_daily (
    invoice_day      date,
    line_class       text not null,
    exclusion_reason text,
    lines            bigint not null,
    line_revenue     numeric(18, 4) not null
);
create index if not exists int_line_class_daily_day_idx on intermediate.int_line_class_daily (invoice_day);

-- Features belong to the run that computed them (runs of one date must not share rows); a
-- warehouse from before that is given the new table, whose rows every run recomputes anyway.
do $$
begin
    if to_regclass('intermediate.int_customer_features') is not null and not exists (
        select from information_schema.columns
        where table_schema = 'intermediate' and table_name = 'int_customer_features' and column_name = 'run_id'
    ) then
        drop table intermediate.int_customer_features;
    end if;
end
$$;

create table if not exists intermediate.int_customer_features (
    run_id             text not null,
    as_of_date         date not null,
    customer_id        text not null,
    recency_days       integer,
    frequency_invoices integer not null,
    monetary_revenue   numeric(18, 4) not null,
    avg_order_revenue  numeric(18, 4),
    items_per_order    numeric(18, 4),
    tenure_days        integer,
    return_rate        numeric(18, 6),
    distinct_products  integer not null,
    is_clusterable     boolean not null,
    computed_at        timestamptz not null default now(),
    primary key (run_id, customer_id)
);

-- Per extracted day: how many lines and which (an order-independent checksum), as copied. Each
-- run compares them with the source's days before its window to find changed history.
create table if not exists internal.extracted_days (
    invoice_day    date primary key,
    lines          bigint not null,
    checksum       numeric not null,
    extract_run_id text not null,
    extracted_at   timestamptz not null default now()
);

-- Days whose raw lines changed since their models were rebuilt: the aggregates stage's queue.
create table if not exists internal.pending_days (
    invoice_day date primary key
);

-- Settings the views need: "today" is a day in the business timezone. One row, kept by the setup.
create table if not exists internal.warehouse_settings (
    business_timezone text not null,
    one_row           boolean primary key default true check (one_row)
);

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

create table if not exists internal.customer_assignments (
    run_id      text not null references internal.segment_models (run_id) on delete cascade,
    customer_id text not null,
    segment_id  integer not null,
    primary key (run_id, customer_id)
);

create table if not exists internal.run_attempts (
    run_id      text not null,
    as_of_date  date not null,
    stage       text not null,
    status      text not null,
    detail      jsonb not null default '{}',
    recorded_at timestamptz not null default now(),
    primary key (run_id, stage)
);

create table if not exists segments.customer_segments (
    as_of_date         date not null,
    customer_id        text not null,
    segment_id         integer not null,
    segment_name       text not null,
    recency_days       integer not null,
    frequency_invoices integer not null,
    monetary_revenue   numeric(18, 2) not null,
    avg_order_revenue  numeric(18, 2) not null,
    items_per_order    numeric(18, 2) not null,
    tenure_days        integer not null,
    return_rate        numeric(8, 4) not null,
    distinct_products  integer not null,
    run_id             text not null,
    primary key (as_of_date, customer_id)
);

create table if not exists segments.segment_profiles (
    as_of_date                date not null,
    segment_id                integer not null,
    segment_name              text not null,
    customers                 integer not null,
    customer_share            numeric(6, 4) not null,
    revenue                   numeric(18, 2) not null,
    revenue_share             numeric(6, 4) not null,
    mean_recency_days         numeric(12, 2) not null,
    median_recency_days       numeric(12, 2) not null,
    mean_frequency_invoices   numeric(12, 2) not null,
    median_frequency_invoices numeric(12, 2) not null,
    mean_monetary_revenue     numeric(18, 2) not null,
    median_monetary_revenue   numeric(18, 2) not null,
    mean_avg_order_revenue    numeric(18, 2) not null,
    median_avg_order_revenue  numeric(18, 2) not null,
    mean_items_per_order      numeric(12, 2) not null,
    median_items_per_order    numeric(12, 2) not null,
    mean_tenure_days          numeric(12, 2) not null,
    median_tenure_days        numeric(12, 2) not null,
    mean_return_rate          numeric(8, 4) not null,
    median_return_rate        numeric(8, 4) not null,
    mean_distinct_products    numeric(12, 2) not null,
    median_distinct_products  numeric(12, 2) not null,
    run_id                    text not null,
    primary key (as_of_date, segment_id)
);

create table if not exists segments.segmentation_runs (
    as_of_date                 date primary key,
    run_id                     text not null,
    k                          integer not null,
    model_features             text[] not null,
    inertia                    double precision not null,
    silhouette                 double precision,
    davies_bouldin             double precision,
    calinski_harabasz          double precision,
    segment_sizes              jsonb not null,
    lines_extracted            bigint not null,
    extract_window_start       timestamp,
    extract_window_end         timestamp not null,
    lines_in_snapshot          bigint not null,
    lines_used                 bigint not null,
    lines_excluded             bigint not null,
    lines_quarantined          bigint not null,
    customers_segmented        integer not null,
    customers_excluded         integer not null,
    customers_changed_segment  integer,
    stage_seconds              jsonb not null,
    published_at               timestamptz not null default now()
);

-- Added after the first release: existing warehouses gain the column in place.
alter table segments.segmentation_runs add column if not exists report_path text;
alter table segments.segmentation_runs add column if not exists predecessor_as_of_date date;
alter table segments.segmentation_runs add column if not exists changed_days_reextracted integer;
alter table segments.segmentation_runs add column if not exists source_lines_dated_after_run bigint;

create table if not exists segments.line_accounting (
    as_of_date       date not null,
    scope            text not null,
    line_class       text not null,
    exclusion_reason text not null,
    lines            bigint not null,
    primary key (as_of_date, scope, line_class, exclusion_reason)
);

create table if not exists segments.segment_migrations (
    as_of_date          date not null,
    previous_as_of_date date not null,
    from_segment_name   text not null,
    to_segment_name     text not null,
    customers           integer not null,
    revenue             numeric(18, 2) not null,
    primary key (as_of_date, from_segment_name, to_segment_name)
);
