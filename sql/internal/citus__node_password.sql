-- How this node authenticates to the other nodes (node id 0: all of them) as a role: Citus' own
-- catalog, readable by superusers only, instead of a password file.
insert into pg_catalog.pg_dist_authinfo (nodeid, rolename, authinfo)
values (0, %(role)s, %(authinfo)s)
on conflict (rolename, nodeid) do update set authinfo = excluded.authinfo
