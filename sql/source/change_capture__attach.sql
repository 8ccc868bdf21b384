-- Log every write to the invoice table (one trigger per event: transition tables allow no more).
drop trigger if exists segments_capture_insert on {source_table};
drop trigger if exists segments_capture_update on {source_table};
drop trigger if exists segments_capture_delete on {source_table};
drop trigger if exists segments_capture_truncate on {source_table};
create trigger segments_capture_insert after insert on {source_table}
    referencing new table as new_lines for each statement execute function segments_capture.log_changed_days();
create trigger segments_capture_update after update on {source_table}
    referencing old table as old_lines new table as new_lines
    for each statement execute function segments_capture.log_changed_days();
create trigger segments_capture_delete after delete on {source_table}
    referencing old table as old_lines for each statement execute function segments_capture.log_changed_days();
create trigger segments_capture_truncate after truncate on {source_table}
    for each statement execute function segments_capture.log_changed_days();
delete from segments_capture.changed_days where source_table = %(source_table)s;
insert into segments_capture.tracked_tables (source_table) values (%(source_table)s)
on conflict (source_table) do update set installation_id = gen_random_uuid(), installed_at = now();
