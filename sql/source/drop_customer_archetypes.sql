-- A generation without a mix (or a loaded file) has no planted truth: an older one would lie.
drop table if exists retail.customer_archetypes
