-- Where the last extract left off in the source's change capture.
select installation_id, read_from_xmin
from internal.source_change_capture
where source_table = %(source_table)s
