-- Which setup the warehouse has: one row per application of the setup files
-- (warehouse.SETUP_FILES), with their fingerprint. Created before them on every run: CREATE ... IF
-- NOT EXISTS of a schema or table that exists takes no lock on any table, where the setup files
-- would (an ALTER TABLE waits for every analyst's open transaction on that table, and every query
-- after it waits in turn; a CREATE INDEX or COMMENT for autovacuum to give way).
create schema if not exists internal;

create table if not exists internal.warehouse_setups (
    setup_id    bigint generated always as identity primary key,
    fingerprint text not null,
    applied_at  timestamptz not null default now()
);
