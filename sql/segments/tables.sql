-- segments: the published contract analysts query (views and comments: views.sql, comments.sql).
create schema if not exists segments;

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
