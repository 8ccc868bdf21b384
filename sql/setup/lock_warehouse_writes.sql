-- Serialise runs that rewrite shared incremental tables (held until the transaction ends).
select pg_advisory_xact_lock(hashtext('segments.warehouse_writes'))
