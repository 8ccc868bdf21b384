-- The planted truth, one row per customer.
select customer_id, archetype
from retail.customer_archetypes
