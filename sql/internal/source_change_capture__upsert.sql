-- The next extract reads the source's change log from this transaction id on.
insert into internal.source_change_capture (source_table, installation_id, read_from_xmin)
values (%(source_table)s, %(installation_id)s, %(snapshot_xmin)s)
on conflict (source_table) do update
set installation_id = excluded.installation_id, read_from_xmin = excluded.read_from_xmin, read_at = now()
