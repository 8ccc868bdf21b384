-- Purchase lines per customer, day and country of the re-read window (a line without a country
-- counts as 'Unspecified', as the Online Retail data itself spells it).
insert into intermediate.int_customer_country_daily (customer_id, invoice_day, country, purchase_lines)
select customer_id, invoice_day, coalesce(nullif(trim(country), ''), 'Unspecified'), count(*)
from pg_temp.int_invoice_lines_classified
where invoice_day >= %(window_start)s and invoice_day < %(window_end)s
  and line_class = 'purchase'
group by 1, 2, 3
