-- The first and last days of the per-customer daily aggregates: the days the totals of all
-- history cover (every other per-customer daily model holds a subset of these days).
select min(invoice_day) as first_day, max(invoice_day) as last_day
from intermediate.int_customer_daily
