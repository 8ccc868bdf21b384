-- intermediate: incremental models rebuilt per changed day, and each run's own features.
create schema if not exists intermediate;

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
