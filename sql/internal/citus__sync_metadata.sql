-- Send the coordinator's node list to every node now, after workers moved: Citus refuses to add or
-- change nodes while a metadata node is out of sync, and its daemon would sync only later.
select start_metadata_sync_to_all_nodes()
