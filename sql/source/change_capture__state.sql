-- The invoice table's change capture as this transaction sees it: its installation, how many of
-- its four triggers are enabled, and the oldest transaction this snapshot may not see (the next
-- extract reads the log from there: every write invisible now has an id at least that large).
select
    tracked.installation_id::text                           as installation_id,
    pg_snapshot_xmin(pg_current_snapshot())::text           as snapshot_xmin,
    (select count(*)
     from pg_trigger
     where tgrelid = to_regclass(tracked.source_table)
       and tgname in ('segments_capture_insert', 'segments_capture_update',
                      'segments_capture_delete', 'segments_capture_truncate')
       and tgenabled <> 'D')                                as enabled_triggers
from segments_capture.tracked_tables as tracked
where tracked.source_table = %(source_table)s
