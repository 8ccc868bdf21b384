-- Fresh statistics for the small aggregates the features query joins, after a bulk rewrite:
-- of the daily aggregates, the columns it filters and groups on (their sums cost most of a full
-- ANALYZE, and no plan reads them; autovacuum still refreshes every column later).
-- (The large line tables are only ever read by day range, where stale statistics do no harm;
-- sampling them would cost more than it saves. Only an extract of all history, which leaves the
-- raw lines without any, takes theirs: raw/raw_invoice_lines__analyze.sql.)
analyze intermediate.int_customer_daily (invoice_day, customer_id), intermediate.int_line_class_daily
