-- The source has no usable change capture: the next extract that finds one starts over.
delete from internal.source_change_capture
where source_table = %(source_table)s
