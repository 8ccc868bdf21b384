-- Forget the totals about to be recomputed (or no longer needed): of the customers whose days
-- were rebuilt, or of every customer (the of_customers fragment, aggregates.py).
delete from intermediate.int_customer_totals
where before_date = %(before_date)s
  {of_customers}
