#!/usr/bin/env bash
# One-shot registration of the compose `citus` profile's cluster (service citus-register):
# every node learns the passwords it uses to reach the others, the coordinator registers itself
# and the workers, and the pipeline's and the analyst's roles are created through the coordinator,
# which creates them on every node. Idempotent: safe to run again (`docker compose run citus-register`).
#
# Values reach SQL as psql variables (:'literal', :"identifier"), never pasted into SQL text.
set -euo pipefail

: "${PGUSER:?set PGUSER: the Citus superuser}"
: "${PGPASSWORD:?set PGPASSWORD: the Citus superuser password}"
: "${CITUS_WORKERS:?set CITUS_WORKERS: the worker hosts, separated by spaces}"
: "${SEGMENTS_DB_USER:?set SEGMENTS_DB_USER: the login role of the pipeline}"
: "${SEGMENTS_DB_PASSWORD:?set SEGMENTS_DB_PASSWORD: password of the pipeline role}"
: "${SEGMENTS_ANALYST_PASSWORD:?set SEGMENTS_ANALYST_PASSWORD: password of the segments_analyst role}"

COORDINATOR=citus-coordinator

psql_on() {
    local host="$1"
    shift
    psql -v ON_ERROR_STOP=1 --no-psqlrc --host "$host" --dbname segment_warehouse \
        --set=superuser="$PGUSER" --set=superuser_password="$PGPASSWORD" \
        --set=pipeline_role="$SEGMENTS_DB_USER" --set=pipeline_password="$SEGMENTS_DB_PASSWORD" \
        --set=analyst_role=segments_analyst --set=analyst_password="$SEGMENTS_ANALYST_PASSWORD" \
        --set=coordinator="$COORDINATOR" --set=worker="${WORKER:-}" "$@"
}

for host in "$COORDINATOR" $CITUS_WORKERS; do
    echo "citus-register: how $host reaches the other nodes"
    psql_on "$host" <<'SQL'
insert into pg_catalog.pg_dist_authinfo (nodeid, rolename, authinfo)
values (0, :'superuser', 'password=' || :'superuser_password')
on conflict (rolename, nodeid) do update set authinfo = excluded.authinfo;
SQL
done

echo "citus-register: the coordinator and the workers"
psql_on "$COORDINATOR" <<'SQL'
select citus_set_coordinator_host(:'coordinator', 5432);
SQL
for worker in $CITUS_WORKERS; do
    WORKER="$worker" psql_on "$COORDINATOR" <<'SQL'
select citus_add_node(:'worker', 5432);
SQL
done

echo "citus-register: the pipeline's and the analyst's roles, on every node"
psql_on "$COORDINATOR" <<'SQL'
select format('create role %I login password %L', :'pipeline_role', :'pipeline_password')
where not exists (select from pg_roles where rolname = :'pipeline_role') \gexec
select format('create role %I login password %L', :'analyst_role', :'analyst_password')
where not exists (select from pg_roles where rolname = :'analyst_role') \gexec
-- The pipeline creates its schemas in the warehouse.
grant create, connect on database segment_warehouse to :"pipeline_role";
SQL
for host in "$COORDINATOR" $CITUS_WORKERS; do
    psql_on "$host" <<'SQL'
insert into pg_catalog.pg_dist_authinfo (nodeid, rolename, authinfo)
values (0, :'pipeline_role', 'password=' || :'pipeline_password'),
       (0, :'analyst_role', 'password=' || :'analyst_password')
on conflict (rolename, nodeid) do update set authinfo = excluded.authinfo;
SQL
done
echo "citus-register: done"
