-- Whether the source has the change capture's tables at all (reading them otherwise fails).
select to_regclass('segments_capture.tracked_tables') is not null as installed
