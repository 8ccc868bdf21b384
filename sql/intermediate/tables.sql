-- intermediate: incremental models rebuilt per changed day, and each run's own features.
create schema if not exists intermediate;

-- Classified lines live only in the transaction that aggregates them
-- (int_invoice_lines_classified__create.sql): a persistent copy of every line cost a write and
-- an index of the whole history in a first run, and nothing read it but the aggregates.
drop table if exists intermediate.int_invoice_lines_classified;

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
-- Its pair index: int_customer_product_days__pair_index.sql, applied right after this file.

-- Two daily models and the customers' totals, added after the first release. A warehouse from
-- before any of them queues every extracted day when it gains them, so its next run rebuilds them
-- for every customer, as a first run does.
do $$
declare
    gains_a_model constant boolean := to_regclass('intermediate.int_customer_new_products_daily') is null
                                   or to_regclass('intermediate.int_customer_country_daily') is null
                                   or to_regclass('intermediate.int_customer_totals') is null;
begin
    -- Per customer and day: how many products the customer bought that day for the first time, so
    -- that features count a customer's distinct products from one row per customer-day instead of
    -- every product-day of history.
    create table if not exists intermediate.int_customer_new_products_daily (
        customer_id  text not null,
        invoice_day  date not null,
        new_products integer not null,
        primary key (invoice_day, customer_id)
    );
    -- Per customer, day and country: purchase lines, from which features take each customer's
    -- country as of any date.
    create table if not exists intermediate.int_customer_country_daily (
        customer_id    text not null,
        invoice_day    date not null,
        country        text not null,
        purchase_lines integer not null,
        primary key (invoice_day, customer_id, country)
    );
    -- Per customer: the sums, first and last purchase days, products and country the features
    -- read, of the days before `before_date`. The rows dated aggregates.ALL_HISTORY_TOTALS are
    -- those of all history, kept current by the aggregates stage (int_customer_totals__insert.sql);
    -- a run whose snapshot they do not cover adds its own for its date and removes them in the
    -- same transaction.
    create table if not exists intermediate.int_customer_totals (
        before_date        date not null,
        customer_id        text not null,
        first_purchase_day date,
        last_purchase_day  date,
        purchase_invoices  bigint not null,
        units_purchased    numeric not null,
        purchase_revenue   numeric not null,
        returned_revenue   numeric not null,
        distinct_products  integer not null,
        country            text,
        primary key (before_date, customer_id)
    );
    if gains_a_model and to_regclass('internal.pending_days') is not null then
        insert into internal.pending_days (invoice_day)
        select invoice_day from internal.extracted_days
        on conflict do nothing;
    end if;
end
$$;

-- By customer and day, with the columns the totals read: a rebuild recomputes the totals of the
-- customers of its days from every day of theirs (int_customer_totals__insert.sql) from these
-- indexes alone, a few pages per customer, where an index of the customer alone sent the server to
-- a heap page per customer-day (a night of the bench's 50M lines with the server's and the
-- system's caches cold: 35,672 pages read, 1.64 s -> 0.20 s; the cost grew with each customer's
-- history). Index-only as far as the tables' pages are all-visible, which autovacuum keeps them.
-- Created only when missing: CREATE INDEX locks out writers even when the index exists, and a
-- release's setup may run while another run reads these tables.
do $$
begin
    if to_regclass('intermediate.int_customer_daily_customer_day_idx') is null then
        create index int_customer_daily_customer_day_idx on intermediate.int_customer_daily (customer_id, invoice_day)
            include (purchase_invoices, units_purchased, purchase_revenue, returned_revenue);
    end if;
    if to_regclass('intermediate.int_customer_country_daily_customer_day_idx') is null then
        create index int_customer_country_daily_customer_day_idx
            on intermediate.int_customer_country_daily (customer_id, invoice_day, country) include (purchase_lines);
    end if;
    if to_regclass('intermediate.int_customer_new_products_daily_customer_day_idx') is null then
        create index int_customer_new_products_daily_customer_day_idx
            on intermediate.int_customer_new_products_daily (customer_id, invoice_day) include (new_products);
    end if;
end
$$;
-- Their predecessors, of the customer alone (a warehouse from an earlier release).
drop index if exists intermediate.int_customer_daily_customer_idx;
drop index if exists intermediate.int_customer_country_daily_customer_idx;
drop index if exists intermediate.int_customer_new_products_daily_customer_idx;

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
-- Added after the first release (customer attributes). Altered only when missing: every release's
-- setup runs this, and an ALTER locks the table even when there is nothing to add.
do $$
begin
    if not exists (
        select from information_schema.columns
        where table_schema = 'intermediate' and table_name = 'int_customer_features' and column_name = 'country'
    ) then
        alter table intermediate.int_customer_features
            add column country text, add column first_purchase_date date, add column last_purchase_date date;
    end if;
end
$$;
