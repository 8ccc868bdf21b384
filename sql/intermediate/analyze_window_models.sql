-- Fresh statistics for the small aggregates the features query joins, after a bulk rewrite.
-- (The large line tables are only ever read by day range, where stale statistics do no harm;
-- sampling them would cost more than it saves.)
analyze intermediate.int_customer_daily, intermediate.int_line_class_daily
