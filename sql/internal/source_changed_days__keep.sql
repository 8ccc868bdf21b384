-- Keep changed days for a later run: days on or after this run's snapshot.
insert into internal.source_changed_days (invoice_day)
select unnest(%(days)s::date[])
on conflict do nothing
