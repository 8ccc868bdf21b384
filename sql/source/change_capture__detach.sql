-- Stop logging writes to the invoice table; extracts go back to fingerprinting every day.
drop trigger if exists segments_capture_insert on {source_table};
drop trigger if exists segments_capture_update on {source_table};
drop trigger if exists segments_capture_delete on {source_table};
drop trigger if exists segments_capture_truncate on {source_table};
delete from segments_capture.changed_days where source_table = %(source_table)s;
delete from segments_capture.tracked_tables where source_table = %(source_table)s;
