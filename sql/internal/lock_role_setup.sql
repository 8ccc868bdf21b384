-- Serialise changes to the project's roles (held until the transaction ends): simultaneous
-- ALTER ROLEs of one role fail with "tuple concurrently updated".
select pg_advisory_xact_lock(hashtext('segments.role_setup'))
