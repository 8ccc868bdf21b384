-- Customers in both the previous published snapshot and this run, and how many changed segment.
select
    count(*)                                                        as customers_in_both_snapshots,
    count(*) filter (where previous.segment_id <> assignments.segment_id) as customers_changed_segment
from internal.customer_assignments as assignments
join segments.customer_segments as previous
  on previous.customer_id = assignments.customer_id and previous.as_of_date = %(previous_as_of_date)s
where assignments.run_id = %(run_id)s
