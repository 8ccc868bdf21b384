-- The shop's OLTP table of invoice lines: the contract the pipeline extracts from.
-- invoice_date is the shop's local time (the business timezone), as the till recorded it.
create schema if not exists retail;

create table if not exists retail.invoice_lines (
    -- ids
    invoice_no   text not null,
    stock_code   text not null,
    customer_id  text,
    -- descriptive
    description  text,
    country      text,
    -- numerics
    quantity     integer not null,
    unit_price   numeric(14, 4) not null,
    -- timestamps
    invoice_date timestamp
);

create index if not exists invoice_lines_invoice_date_idx on retail.invoice_lines (invoice_date);
