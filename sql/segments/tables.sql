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
-- Added after the first release: who the customer is (null in snapshots published before).
alter table segments.customer_segments add column if not exists country text;
alter table segments.customer_segments add column if not exists first_purchase_date date;
alter table segments.customer_segments add column if not exists last_purchase_date date;

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
alter table segments.segmentation_runs add column if not exists bootstrap_stability double precision;

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

-- Added after the first release: keys for joins that must not depend on names. Rows published
-- before get their ids from the profiles of both snapshots (idempotent: only missing ones).
alter table segments.segment_migrations add column if not exists from_segment_id integer;
alter table segments.segment_migrations add column if not exists to_segment_id integer;
alter table segments.segment_migrations add column if not exists is_new_customer boolean;
alter table segments.segment_migrations add column if not exists is_lost_customer boolean;
update segments.segment_migrations as migrations
set from_segment_id = (select profiles.segment_id from segments.segment_profiles as profiles
                       where profiles.as_of_date = migrations.previous_as_of_date
                         and profiles.segment_name = migrations.from_segment_name),
    to_segment_id = (select profiles.segment_id from segments.segment_profiles as profiles
                     where profiles.as_of_date = migrations.as_of_date
                       and profiles.segment_name = migrations.to_segment_name),
    is_new_customer = migrations.from_segment_name = '(new)',
    is_lost_customer = migrations.to_segment_name = '(not segmented)'
where migrations.is_new_customer is null;
alter table segments.segment_migrations alter column is_new_customer set not null;
alter table segments.segment_migrations alter column is_lost_customer set not null;

-- What each segment means: published with the snapshot, from the model's definitions and centroids.
create table if not exists segments.segment_definitions (
    as_of_date                   date not null,
    segment_id                   integer not null,
    segment_name                 text not null,
    value_rank                   integer not null,
    description                  text not null,
    recommended_action           text not null,
    centroid_recency_days        double precision,
    centroid_frequency_invoices  double precision,
    centroid_monetary_revenue    double precision,
    centroid_avg_order_revenue   double precision,
    centroid_items_per_order     double precision,
    centroid_tenure_days         double precision,
    centroid_return_rate         double precision,
    centroid_distinct_products   double precision,
    run_id                       text not null,
    primary key (as_of_date, segment_id)
);
