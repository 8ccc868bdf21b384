#!/usr/bin/env bash
# First-start initialisation of the retail-postgres service (run by the postgres image's
# entrypoint from /docker-entrypoint-initdb.d when the data volume is empty).
#
# Creates:
#   - database retail_source, with retail.invoice_lines from /sql/source/create_invoice_lines.sql,
#     readable (and only readable) by the pipeline;
#   - database segment_warehouse, owned by the pipeline, which creates its schemas at run time;
#   - the pipeline's login role ($SEGMENTS_DB_USER / $SEGMENTS_DB_PASSWORD);
#   - the read-only analyst role segments_analyst ($SEGMENTS_ANALYST_PASSWORD). It gets no grant
#     here: the pipeline grants it read on schema `segments` of segment_warehouse.
#
# Values reach SQL as psql variables (:'literal', :"identifier"), never pasted into SQL text.
# Every statement is idempotent, so the script can also be re-run by hand against a live server.
set -euo pipefail

: "${POSTGRES_USER:?POSTGRES_USER is set by the postgres image}"
: "${SEGMENTS_DB_USER:?set SEGMENTS_DB_USER: the login role of the pipeline}"
: "${SEGMENTS_DB_PASSWORD:?set SEGMENTS_DB_PASSWORD: password of the pipeline role}"
: "${SEGMENTS_ANALYST_PASSWORD:?set SEGMENTS_ANALYST_PASSWORD: password of the segments_analyst role}"

if [[ "$SEGMENTS_DB_USER" == "$POSTGRES_USER" || "$SEGMENTS_DB_USER" == "segments_analyst" ]]; then
    echo "SEGMENTS_DB_USER must be a role of its own, not '$SEGMENTS_DB_USER'." >&2
    exit 1
fi

psql_as_superuser() {
    psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$POSTGRES_USER" \
        --set=pipeline_role="$SEGMENTS_DB_USER" \
        --set=pipeline_password="$SEGMENTS_DB_PASSWORD" \
        --set=analyst_role=segments_analyst \
        --set=analyst_password="$SEGMENTS_ANALYST_PASSWORD" \
        --set=source_db=retail_source \
        --set=warehouse_db=segment_warehouse \
        "$@"
}

echo "retail-postgres init: roles and databases"
psql_as_superuser --dbname postgres <<'SQL'
select format('create role %I login password %L', :'pipeline_role', :'pipeline_password')
where not exists (select from pg_roles where rolname = :'pipeline_role') \gexec

select format('create role %I login password %L', :'analyst_role', :'analyst_password')
where not exists (select from pg_roles where rolname = :'analyst_role') \gexec

select format('create database %I', :'source_db')
where not exists (select from pg_database where datname = :'source_db') \gexec

select format('create database %I owner %I', :'warehouse_db', :'pipeline_role')
where not exists (select from pg_database where datname = :'warehouse_db') \gexec

-- The source is the shop's: only the pipeline (and the superuser) may connect to it.
revoke all on database :"source_db" from public;
grant connect on database :"source_db" to :"pipeline_role";
SQL

echo "retail-postgres init: source table in retail_source"
psql_as_superuser --dbname retail_source --file /sql/source/create_invoice_lines.sql

echo "retail-postgres init: pipeline read access to retail_source"
psql_as_superuser --dbname retail_source <<'SQL'
grant usage on schema retail to :"pipeline_role";
grant select on all tables in schema retail to :"pipeline_role";
alter default privileges in schema retail grant select on tables to :"pipeline_role";
SQL

echo "retail-postgres init: done"
