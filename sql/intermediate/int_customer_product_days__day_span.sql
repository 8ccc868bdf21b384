-- The first and last day the product days hold (the primary key answers both from its ends).
select min(invoice_day) as first_day, max(invoice_day) as last_day
from intermediate.int_customer_product_days
