-- Delete the log entries older than the retention, and remember the newest transaction deleted.
with pruned as (
    delete from segments_capture.changed_days
    where source_table = %(source_table)s
      and changed_at < now() - make_interval(days => %(keep_days)s)
    returning changed_by_xid
)
update segments_capture.tracked_tables
set pruned_through_xid = greatest(pruned_through_xid, (select max(changed_by_xid) from pruned))
where source_table = %(source_table)s
returning (select count(*) from pruned) as entries_pruned
