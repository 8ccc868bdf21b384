-- The classified lines of one range of days at a time, for the aggregates built from them; dropped
-- with the transaction. No index: every reader scans the whole range. The raw lines stay the
-- record of every line; int_line_class_daily accounts for each by class and reason.
create temp table if not exists int_invoice_lines_classified (
    invoice_no       text,
    stock_code       text,
    customer_id      text,
    quantity         integer,
    unit_price       numeric(14, 4),
    line_revenue     numeric(18, 4),
    invoiced_at      timestamp,
    invoice_day      date,
    line_class       text not null,
    exclusion_reason text,
    country          text
) on commit drop
