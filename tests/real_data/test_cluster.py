"""The pipeline on a local Citus cluster (a coordinator and two workers) publishes exactly what a
single PostgreSQL publishes, from the same source, through the same SQL files."""

from __future__ import annotations

import datetime as dt

import psycopg
import pytest

from pipeline_helpers import run_stages, snapshot_rows
from segments import db
from segments.outputs import operations
from segments.pipeline import registry
from segments.pipeline.features import load_features
from segments.pipeline import warehouse as warehouse_setup
from segments.tools import cli, cluster, runner, server

pytestmark = pytest.mark.real_data

NIGHTS = [dt.date(2011, 12, day) for day in range(1, 11)]
DEFINITIONS = ("select segment_id, segment_name, value_rank, description, recommended_action "
               "from segments.segment_definitions where as_of_date = %s order by 1")


def published(warehouse, as_of: dt.date) -> dict:
    return {**snapshot_rows(warehouse, as_of), "definitions": warehouse.execute(DEFINITIONS, (as_of,)).fetchall()}


def assert_same_snapshots(single, distributed) -> None:
    current = "select as_of_date from internal.current_as_of_date"
    assert distributed.execute(current).fetchall() == single.execute(current).fetchall()
    for as_of in NIGHTS:
        expected, actual = published(single, as_of), published(distributed, as_of)
        differences = {table: len(set(expected[table]) ^ set(actual[table])) for table in expected}
        assert differences == dict.fromkeys(expected, 0), f"{as_of}: rows differing per table {differences}"


def test_the_cluster_publishes_what_a_single_postgres_publishes(real_source, warehouse, distributed_warehouse):
    distributed = distributed_warehouse

    def both(operation) -> None:
        for target in (warehouse, distributed):
            operation(target)

    for night in NIGHTS:  # the nightly sequence
        both(lambda target: run_stages(real_source, target, night))
    assert_same_snapshots(warehouse, distributed)
    assert distributed.execute("select count(*) from segments.customer_segments where as_of_date = %s",
                               (NIGHTS[-1],)).fetchone()[0] > 4_000
    layout = distributed.execute("select table_name::text, citus_table_type from citus_tables order by 1").fetchall()
    assert ("segments.customer_segments", "distributed") in layout
    assert ("raw.invoice_lines", "distributed") in layout
    assert ("internal.segment_models", "reference") in layout
    # The extracted lines and the per-customer tables are sharded alike (one colocation group),
    # and hold their rows on both workers, none on the coordinator.
    groups = distributed.execute("select distinct colocation_id from citus_tables where citus_table_type = 'distributed'")
    assert len(groups.fetchall()) == 1
    for table in ("raw.invoice_lines", "segments.customer_segments"):
        placements = distributed.execute(
            "select nodeport, sum(shard_size) > 0 from citus_shards where table_name = %s::regclass group by 1 order by 1",
            (table,)).fetchall()
        assert placements == [(worker.port, True) for worker in cluster.workers(2)], table
    # Every published customer's lines carry the published id as their key: joined shard by shard.
    (without_lines,) = distributed.execute(
        "select count(*) from segments.customer_segments as published where as_of_date = %s and not exists "
        "(select 1 from raw.invoice_lines as line where line.customer_key = published.customer_id)", (NIGHTS[-1],)).fetchone()
    assert without_lines == 0

    both(lambda target: run_stages(real_source, target, NIGHTS[-1]))  # a rerun
    both(lambda target: run_stages(real_source, target, NIGHTS[4]))  # a past date again, after later ones
    assert_same_snapshots(warehouse, distributed)

    both(lambda target: operations.rollback(target, NIGHTS[-1]))  # a rollback
    assert_same_snapshots(warehouse, distributed)
    assert distributed.execute("select count(*) from segments.customer_segments where as_of_date = %s",
                               (NIGHTS[-1],)).fetchone() == (0,)


def test_dag_runs_backfilling_past_dates_on_the_cluster_publish_what_a_single_postgres_publishes(
    real_source, warehouse, distributed_warehouse, monkeypatch
):
    """Real `dag.test()` runs, the Airflow connection pointed at the coordinator: the latest date
    first, then the two days before it out of order, as an engineer backfilling would."""
    dates = [NIGHTS[-1], NIGHTS[-3], NIGHTS[-2]]
    for as_of in dates:
        assert runner.run(as_of) == "success"
    monkeypatch.setenv("AIRFLOW_CONN_SEGMENT_WAREHOUSE", cluster.warehouse_url())
    for as_of in dates:
        assert runner.run(as_of) == "success"
    for as_of in dates:
        expected, actual = published(warehouse, as_of), published(distributed_warehouse, as_of)
        assert expected["customer_segments"], f"{as_of} was published"
        differences = {table: len(set(expected[table]) ^ set(actual[table])) for table in expected}
        assert differences == dict.fromkeys(expected, 0), f"{as_of}: rows differing per table {differences}"
    layout = distributed_warehouse.execute("select count(*) from citus_tables where citus_table_type = 'distributed'")
    assert layout.fetchone()[0] > 0, "the DAG's own schema setup distributed the warehouse"


def test_the_read_only_role_reads_through_the_coordinator_and_cannot_write(distributed_warehouse):
    warehouse_setup.ensure_schema(distributed_warehouse)
    analyst_url = server.analyst_url(cluster.WAREHOUSE, port=cluster.coordinator().port)
    with psycopg.connect(analyst_url) as analyst:
        (published_rows,) = analyst.execute("select count(*) from segments.customer_segments").fetchone()
        assert published_rows >= 0
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            analyst.execute("delete from segments.customer_segments")


def test_an_existing_warehouse_moved_to_the_coordinator_is_distributed_by_one_command(
    real_source, warehouse, distributed_warehouse, monkeypatch, capsys
):
    # A warehouse built on a single PostgreSQL (here: the coordinator before Citus is in its
    # database), then `segments cluster distribute`: rows move into the shards, and the next
    # night publishes what the single PostgreSQL publishes.
    cluster.recreate_warehouse(2)
    with psycopg.connect(server.url(cluster.WAREHOUSE, port=cluster.coordinator().port), autocommit=True) as conn:
        conn.execute("drop extension citus cascade")
    with db.connect_url(cluster.warehouse_url()) as moved:
        for night in NIGHTS[-2:-1]:
            run_stages(real_source, moved, night)
            run_stages(real_source, warehouse, night)
    cluster.start(2)  # Citus in the database again, the workers registered
    monkeypatch.setenv("AIRFLOW_CONN_SEGMENT_WAREHOUSE", cluster.warehouse_url())
    assert cli.main(["cluster", "distribute"]) == 0
    assert "distributed" in capsys.readouterr().out
    with db.connect_url(cluster.warehouse_url()) as moved:
        kinds = dict(moved.execute("select table_name::text, citus_table_type from citus_tables").fetchall())
        assert kinds["segments.customer_segments"] == "distributed"
        assert kinds["raw.invoice_lines"] == "distributed"
        assert moved.execute("select count(*) from segments.customer_segments").fetchone()[0] > 4_000
        run_stages(real_source, moved, NIGHTS[-1])
        run_stages(real_source, warehouse, NIGHTS[-1])
        for night in NIGHTS[-2:]:
            assert published(moved, night) == published(warehouse, night)


def test_past_the_training_threshold_the_cluster_scores_every_customer_in_sql(
    real_source, distributed_warehouse, monkeypatch
):
    """The scale-out path: a sample trains the model, and every customer is assigned on the shards,
    as the stored model assigns them in pandas (and a second night replaces a run's rows cleanly)."""
    monkeypatch.setenv("SEGMENTS_MAX_TRAINING_CUSTOMERS", "1500")
    for night in NIGHTS[-2:]:
        result = run_stages(real_source, distributed_warehouse, night)
    assert result["training"]["scored_in"] == "sql"
    run_id = result["snapshot"].run_id
    published = dict(distributed_warehouse.execute(
        "select customer_id, segment_id from segments.customer_segments where as_of_date = %s", (NIGHTS[-1],)))
    model = registry.load(distributed_warehouse, run_id)
    assert model.assign(load_features(distributed_warehouse, run_id)).to_dict() == published
    assert len(published) > 4_000
