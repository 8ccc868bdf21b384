-- Whether the warehouse is a Citus coordinator: the engine is read from the warehouse itself.
select exists (select from pg_extension where extname = 'citus') as citus
