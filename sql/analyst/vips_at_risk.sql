-- VIP Premium customers of the current snapshot who have not bought for a month or more.
select customer_id, recency_days, frequency_invoices, monetary_revenue, tenure_days
from segments.customer_segments_current
where segment_name = 'VIP Premium'
  and recency_days >= 30
order by monetary_revenue desc
