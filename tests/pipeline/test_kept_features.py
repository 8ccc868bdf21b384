"""Which runs' features the warehouse keeps, and what finding the others costs a night.

Each run writes its features and assignments as rows of its own. Those of a published snapshot
stay with it, and so do those of a run that may still be going; those of a run that stopped long
ago without a published snapshot (killed, refused by the quality gate, run through the features
only, or withdrawn) are forgotten by the next run. It finds such runs in the run ledger, so it
reads no feature row of any other run: a night's cost does not grow with the snapshots published
before it.
"""

from __future__ import annotations

import datetime as dt

import psycopg
import pytest

from pipeline_helpers import run_stages
from segments import db
from segments.outputs import operations
from segments.tools import cluster, load, server

FIRST_DAY = dt.date(2011, 3, 1)
# Rows standing for the features of earlier snapshots: runs of 40 customers, as this shop's.
EARLIER_RUNS = 200


def line(invoice: int, day: dt.date, customer: str, stock_code: str) -> str:
    # invoice_no, stock_code, description, quantity, invoice_date, unit_price, customer_id, country (COPY text)
    return f"{invoice}\t{stock_code}\tITEM\t2\t{day} 10:00:00\t3.50\t{customer}\tFrance\n"


def rows_of(warehouse, run: dict) -> list[int]:
    """The run's feature rows and assignments."""
    return [warehouse.execute(f"select count(*) from {table} where run_id = %s", (run["snapshot"].run_id,)).fetchone()[0]
            for table in ("intermediate.int_customer_features", "internal.customer_assignments")]


def stopped_days_ago(warehouse, run: dict, days: int) -> None:
    """Move a run's recorded attempts `days` days into the past."""
    warehouse.execute("update internal.run_attempts set recorded_at = recorded_at - make_interval(days => %s) "
                      "where run_id = %s", (days, run["snapshot"].run_id))
    warehouse.commit()


def feature_rows_read(warehouse) -> int:
    """Rows of intermediate.int_customer_features read so far (by sequential and index scans), once
    this session's statistics are flushed: they are, as soon as it is idle after the request."""
    warehouse.execute("select pg_stat_force_next_flush()")
    warehouse.commit()
    (read,) = warehouse.execute(
        "select seq_tup_read + coalesce(idx_tup_fetch, 0) from pg_stat_user_tables "
        "where relid = 'intermediate.int_customer_features'::regclass").fetchone()
    warehouse.commit()
    return read


def test_a_night_forgets_the_rows_of_runs_abandoned_long_ago_without_reading_those_it_keeps(source, warehouse):
    lines = [line(500000 + n, FIRST_DAY + dt.timedelta(days=n % 30), f"100{n % 40:02d}", f"2200{n % 5}")
             for n in range(400)]
    load.copy_into_source(source, ["".join(lines)], replace=True)
    published = run_stages(source, warehouse, dt.date(2011, 4, 1))
    withdrawn = run_stages(source, warehouse, dt.date(2011, 4, 2))
    operations.rollback(warehouse, dt.date(2011, 4, 2))
    abandoned = run_stages(source, warehouse, dt.date(2011, 4, 3), publish=False)
    going = run_stages(source, warehouse, dt.date(2011, 4, 4), publish=False)
    stopped_days_ago(warehouse, published, 5)
    stopped_days_ago(warehouse, withdrawn, 3)
    stopped_days_ago(warehouse, abandoned, 3)
    warehouse.execute(
        "insert into intermediate.int_customer_features (run_id, as_of_date, customer_id, frequency_invoices, "
        "monetary_revenue, distinct_products, is_clusterable) "
        "select 'earlier_' || run, date '2011-04-01' - run, customer_id, frequency_invoices, monetary_revenue, "
        "distinct_products, is_clusterable "
        "from intermediate.int_customer_features, generate_series(1, %s) as run where run_id = %s",
        (EARLIER_RUNS, published["snapshot"].run_id))
    warehouse.execute("analyze intermediate.int_customer_features")
    warehouse.commit()
    read_before = feature_rows_read(warehouse)

    night = run_stages(source, warehouse, dt.date(2011, 4, 5))

    read = feature_rows_read(warehouse) - read_before
    assert [rows_of(warehouse, run) for run in (published, withdrawn, abandoned, going, night)] == [
        [40, 40], [0, 0], [0, 0], [40, 0], [40, 40]]
    # The night's own rows (written, then read to train and publish) and the abandoned runs', not
    # the 8,000 of the earlier runs that a scan of the table would read.
    assert read < 1_000, f"the night read {read:,} feature rows"


PER_RUN_TABLES = ("intermediate.int_customer_features", "internal.customer_assignments", "segments.customer_segments")


def planned_rows(warehouse) -> list[float]:
    """The rows each per-run table's statistics count: on a Citus cluster, those of its shards on
    the workers, read there (the coordinator's table is an empty shell)."""
    if not warehouse.execute("select exists (select from pg_extension where extname = 'citus')").fetchone()[0]:
        return [warehouse.execute("select reltuples from pg_class where oid = %s::regclass", (table,)).fetchone()[0]
                for table in PER_RUN_TABLES]
    counted = dict.fromkeys(PER_RUN_TABLES, 0.0)
    for worker in cluster.workers(2):
        with db.connect_url(server.url(cluster.WAREHOUSE, port=worker.port)) as on_worker:
            on_worker.execute("set citus.override_table_visibility = off")  # Citus hides the shards otherwise
            for table in PER_RUN_TABLES:
                schema, name = table.split(".")
                (shards,) = on_worker.execute(
                    "select sum(reltuples) from pg_class where relkind = 'r' "
                    "and relnamespace = %s::regnamespace and relname ~ ('^' || %s || '_[0-9]+$')", (schema, name)).fetchone()
                counted[table] += shards
    return list(counted.values())


@pytest.fixture(params=["single PostgreSQL", "Citus cluster"])
def any_warehouse(request) -> psycopg.Connection:
    """The test warehouse, then the same on a local Citus cluster."""
    return request.getfixturevalue("warehouse" if request.param == "single PostgreSQL" else "distributed_warehouse")


def test_a_night_takes_statistics_of_the_per_run_tables_only_while_its_rows_are_a_tenth_of_them(source, any_warehouse):
    warehouse = any_warehouse
    lines = [line(500000 + n, FIRST_DAY + dt.timedelta(days=n % 30), f"100{n % 40:02d}", f"2200{n % 5}")
             for n in range(400)]
    load.copy_into_source(source, ["".join(lines)], replace=True)

    # Fewer rows than autovacuum's threshold (50): only the runs' own ANALYZEs can count them.
    run_stages(source, warehouse, dt.date(2011, 4, 1))
    assert planned_rows(warehouse) == [40, 40, 40]
    run_stages(source, warehouse, dt.date(2011, 4, 2))
    assert planned_rows(warehouse) == [80, 80, 80]

    # Two hundred earlier snapshots' rows: the next night's 40 are 0.5% of them.
    for table, run_column in (("intermediate.int_customer_features", "run_id"),
                              ("internal.customer_assignments", "run_id"),
                              ("segments.customer_segments", "as_of_date")):
        columns = [name for (name,) in warehouse.execute(
            "select attname from pg_attribute where attrelid = %s::regclass and attnum > 0 and not attisdropped "
            "order by attnum", (table,))]
        earlier = {"run_id": "'earlier_' || run", "as_of_date": "as_of_date - 10 - run"}
        warehouse.execute(
            f"insert into {table} ({', '.join(columns)}) select {', '.join(earlier.get(c, c) for c in columns)} "
            f"from {table}, generate_series(1, %s) as run where {run_column} = "
            f"(select {run_column} from segments.segmentation_runs where as_of_date = '2011-04-01')",
            (EARLIER_RUNS,))
        warehouse.execute(f"analyze {table}")
    warehouse.commit()
    assert planned_rows(warehouse) == [8_080, 8_080, 8_080]

    night = run_stages(source, warehouse, dt.date(2011, 4, 3))
    assert planned_rows(warehouse) == [8_080, 8_080, 8_080], "the statistics were left to autovacuum"
    published = warehouse.execute("select customers_segmented from segments.segmentation_runs "
                                  "where as_of_date = '2011-04-03'").fetchone()[0]
    assert published == night["features"]["customers_segmented"] == 40


def test_two_runs_at_once_both_forget_an_abandoned_run_and_publish(source, warehouse):
    """The nightly run and a backfill starting together both find the same abandoned run: each
    deletes its rows (the second finds them gone) and publishes its own snapshot."""
    from concurrent.futures import ThreadPoolExecutor

    lines = [line(500000 + n, FIRST_DAY + dt.timedelta(days=n % 30), f"100{n % 40:02d}", f"2200{n % 5}")
             for n in range(400)]
    load.copy_into_source(source, ["".join(lines)], replace=True)
    run_stages(source, warehouse, dt.date(2011, 4, 1))
    withdrawn = run_stages(source, warehouse, dt.date(2011, 4, 2))
    operations.rollback(warehouse, dt.date(2011, 4, 2))
    stopped_days_ago(warehouse, withdrawn, 3)

    def run(as_of: dt.date) -> dict:
        with db.connect_url(server.url(source.info.dbname)) as own_source, \
                db.connect_url(server.url(warehouse.info.dbname)) as own_warehouse:
            return run_stages(own_source, own_warehouse, as_of)

    with ThreadPoolExecutor(2) as pool:
        runs = list(pool.map(run, (dt.date(2011, 4, 3), dt.date(2011, 4, 4))))

    assert rows_of(warehouse, withdrawn) == [0, 0]
    assert [rows_of(warehouse, each) for each in runs] == [[40, 40], [40, 40]]
    published = warehouse.execute("select as_of_date from segments.segmentation_runs order by 1").fetchall()
    assert [day for (day,) in published] == [dt.date(2011, 4, 1), dt.date(2011, 4, 3), dt.date(2011, 4, 4)]
