copy retail.customer_archetypes (customer_id, archetype)
from stdin
