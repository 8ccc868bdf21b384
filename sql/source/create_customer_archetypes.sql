-- The planted truth of a synthetic source (`segments generate --mix`): which archetype each
-- customer was drawn from. Not part of the source contract; `segments evaluate` scores models
-- against it.
create table if not exists retail.customer_archetypes (
    customer_id text primary key,
    archetype   text not null
)
