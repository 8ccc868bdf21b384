-- Customers and net revenue of a published snapshot (no row when the date is not published).
select sum(customers)::integer as customers, sum(revenue)::float8 as revenue
from segments.segment_profiles
where as_of_date = %(as_of_date)s
having count(*) > 0
