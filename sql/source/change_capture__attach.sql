-- Log every write to the invoice table (one trigger per event: transition tables allow no more),
-- as a new installation: run after change_capture__detach.sql, which clears the previous one.
create trigger segments_capture_insert after insert on {source_table}
    referencing new table as new_lines for each statement execute function segments_capture.log_changed_days();
create trigger segments_capture_update after update on {source_table}
    referencing old table as old_lines new table as new_lines
    for each statement execute function segments_capture.log_changed_days();
create trigger segments_capture_delete after delete on {source_table}
    referencing old table as old_lines for each statement execute function segments_capture.log_changed_days();
create trigger segments_capture_truncate after truncate on {source_table}
    for each statement execute function segments_capture.log_changed_days();
insert into segments_capture.tracked_tables (source_table) values (%(source_table)s)
