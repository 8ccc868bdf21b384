"""`make bench` on a tiny size: every measure is taken for real and reported."""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import time

import psutil
import psycopg

from segments.pipeline.stages import SEQUENCE
from segments.tools import cluster, server
from segments.tools.bench import cli, render, workers
from segments.tools.bench.interference import MachineShare
from segments.tools.bench.storage import StorageReads

SOURCE_DB = "test_bench_source"
WAREHOUSE_DB = "test_bench_warehouse"


def test_bench_reports_every_measure(tmp_path):
    out = tmp_path / "bench"
    status = cli.main([
        "--sizes", "20000", "--customers", "500", "--out", str(out),
        "--source-db", SOURCE_DB, "--warehouse-db", WAREHOUSE_DB, "--no-airflow",
    ])

    report = json.loads((out / "bench.json").read_text())
    (record,) = report["sizes"]
    assert status == 0, record["errors"]
    markdown = (out / "bench.md").read_text()
    assert (out / "bench.png").read_bytes().startswith(b"\x89PNG")

    for name, _ in render.measure_rows():
        assert f"| {name} |" in markdown, f"measure {name!r} missing from bench.md"
    table_rows = [line for line in markdown.splitlines() if line.startswith("| ") and "|" in line[2:]]
    assert not any("| failed" in row for row in table_rows), markdown
    assert "skipped (--no-airflow)" in markdown

    assert 19_000 <= record["data"]["history_lines"] <= 21_000
    assert record["data"]["incremental_day_lines"] > 0
    stages = set(SEQUENCE)
    for part in ("full", "nightly"):
        assert set(record[part]["stages"]) == stages, record[part]
        assert all(seconds >= 0 for seconds in record[part]["stages"].values())
        assert record[part]["peak_rss_mib"] > 0
    assert record["full"]["lines_extracted"] == record["data"]["history_lines"]
    # The nightly run re-reads the look-back days plus the new one, not the whole history.
    nightly_lines = record["nightly"]["lines_extracted"]
    assert record["data"]["incremental_day_lines"] <= nightly_lines < record["full"]["lines_extracted"]
    for part in ("full", "nightly", "notebook"):
        assert 0.0 <= record[part]["other_processes_cpu_share"] <= 1.0, record[part]
        assert record[part]["storage_read_mib"] >= 0 and record[part]["worker_storage_read_mib"] >= 0, record[part]
    assert set(record["notebook"]["steps"]) == set(workers.NOTEBOOK_STEPS)
    assert record["notebook"]["lines_read"] == record["data"]["history_lines"]
    assert record["notebook"]["peak_rss_mib"] > 0

    derived = record["derived"]
    for key in ("full_total_s", "nightly_total_s", "notebook_total_s", "extract_lines_per_s",
                "nightly_over_notebook_time", "nightly_over_notebook_memory", "full_over_notebook_time"):
        assert isinstance(derived[key], (int, float)) and derived[key] > 0, key

    agreement = record["agreement"]
    ari = agreement["adjusted_rand_index"]
    assert isinstance(ari, float) and not math.isnan(ari) and -1.0 <= ari <= 1.0
    assert 0.0 <= agreement["agreement_share"] <= 1.0
    assert agreement["customers_both"] > 0

    statuses = {target["status"] for target in report["targets"]}
    assert statuses <= {"PASS", "FAIL", "(pass)", "(fail)", "n/a"}
    assert "## Targets" in markdown

    # The benchmark's databases are its own, and gone afterwards.
    with server.psycopg.connect(server.url("postgres")) as conn:
        names = {row[0] for row in conn.execute("select datname from pg_database")}
    assert not names & {SOURCE_DB, WAREHOUSE_DB}


def test_bench_runs_the_same_runs_on_a_citus_cluster_and_compares_each_stage(tmp_path, citus_built):
    out = tmp_path / "bench"
    cluster_was_running = cluster.status().running
    status = cli.main([
        "--sizes", "20000", "--customers", "500", "--out", str(out), "--cluster-workers", "2",
        "--source-db", SOURCE_DB, "--warehouse-db", WAREHOUSE_DB, "--no-airflow",
    ])
    (record,) = json.loads((out / "bench.json").read_text())["sizes"]
    assert status == 0, record["errors"]
    for run in ("cluster_full", "cluster_nightly"):
        assert set(record[run]["stages"]) == set(SEQUENCE), record[run]
    assert record["cluster_full"]["customers_segmented"] == record["full"]["customers_segmented"]
    assert record["cluster_nightly"]["lines_extracted"] == record["nightly"]["lines_extracted"]
    assert record["derived"]["cluster_full_over_single"] > 0
    markdown = (out / "bench.md").read_text()
    assert "## The warehouse on a Citus cluster vs a single PostgreSQL" in markdown
    assert "| 20k | nightly | **until published** |" in markdown
    # A cluster the benchmark started is stopped with it; one already running is left running.
    assert cluster.status().running == cluster_was_running


def test_bench_runs_the_nightly_date_again_before_and_after_more_published_snapshots(tmp_path):
    out = tmp_path / "bench"
    status = cli.main([
        "--sizes", "20000", "--customers", "500", "--out", str(out), "--earlier-snapshots", "5",
        "--source-db", SOURCE_DB, "--warehouse-db", WAREHOUSE_DB, "--no-airflow", "--keep-databases",
    ])
    try:
        (record,) = json.loads((out / "bench.json").read_text())["sizes"]
        assert status == 0, record["errors"]
        with server.psycopg.connect(server.url(WAREHOUSE_DB)) as warehouse:
            published = warehouse.execute("select as_of_date, run_id from segments.segmentation_runs order by 1").fetchall()
            counts = {table: warehouse.execute(f"select count(*) from {table}").fetchone()[0]
                      for table in ("intermediate.int_customer_features", "segments.customer_segments")}
    finally:
        for name in (SOURCE_DB, WAREHOUSE_DB):
            server.drop_database(name)

    nightly_date = dt.date.fromisoformat(record["nightly"]["as_of"])
    full_date = nightly_date - dt.timedelta(days=1)
    # Five earlier snapshots, each a day before the next, before the full run's; then the full
    # run's, and the nightly date's, now published by the run after the snapshots.
    assert published == [*((full_date - dt.timedelta(days=n), f"bench__rerun__{nightly_date}__earlier_{n}")
                           for n in range(5, 0, -1)),
                         (full_date, f"bench__full__{full_date}"),
                         (nightly_date, f"bench__rerun_after_snapshots__{nightly_date}")]
    customers = record["nightly"]["customers_segmented"]
    assert record["rerun"]["customers_segmented"] == record["rerun_after_snapshots"]["customers_segmented"] == customers
    added = record["earlier_snapshots"]["rows_added"]
    featured = customers + record["nightly"]["customers_excluded"]  # a feature row each, segmented or not
    assert added["intermediate.int_customer_features"] == 5 * featured
    assert added["segments.customer_segments"] == 5 * customers
    # The features of every run (full, nightly, rerun, rerun after) and the copies; the published
    # customers of the full run's date, the copies' and the nightly date's.
    full_featured = record["full"]["customers_segmented"] + record["full"]["customers_excluded"]
    assert counts["intermediate.int_customer_features"] == full_featured + 8 * featured
    assert counts["segments.customer_segments"] == record["full"]["customers_segmented"] + 6 * customers
    for run in ("rerun", "rerun_after_snapshots"):
        assert set(record[run]["stages"]) == set(SEQUENCE), record[run]
    assert record["derived"]["rerun_after_snapshots_over_before"] > 0
    markdown = (out / "bench.md").read_text()
    assert "| rerun after the earlier snapshots: until published |" in markdown
    (target,) = [row for row in json.loads((out / "bench.json").read_text())["targets"]
                 if row["target"].startswith("nightly stages after more published snapshots")]
    assert target["status"] in {"(pass)", "(fail)"}, target  # set at 10M; shown here for information


def test_the_local_servers_work_counts_as_measured_even_in_parallel_workers_that_ended(warehouse):
    """A query whose work is all in parallel workers, which have ended when the measurement ends:
    their CPU is the measured server's, not other processes'."""
    warehouse.execute("create table numbers as select generate_series(1, 2000000) as n")
    for setting in ("parallel_setup_cost = 0", "parallel_tuple_cost = 0", "min_parallel_table_scan_size = 0",
                    "max_parallel_workers_per_gather = 2", "parallel_leader_participation = off"):
        warehouse.execute(f"set {setting}")
    query = "select sum(sqrt(n) * ln(n)) from numbers"
    plan = "\n".join(row[0] for row in warehouse.execute(f"explain {query}"))
    assert "Workers Planned: 2" in plan, plan

    counting_the_server, not_counting_it = MachineShare([server.MAIN]), MachineShare()
    started = time.perf_counter()
    while time.perf_counter() - started < 3:
        warehouse.execute(query)
    wall = time.perf_counter() - started

    one_core = 1 / psutil.cpu_count()
    assert not_counting_it.others(wall, 0.0) > counting_the_server.others(wall, 0.0) + 0.6 * one_core


def test_what_the_servers_read_from_disk_counts_a_closed_connections_scan_of_a_table_no_longer_in_memory(warehouse):
    """The bench's disk reads: a table the system's page cache no longer holds, scanned by a
    connection that has closed since, counts its size (whichever server process read it: the
    backend, whose count is then in the postmaster's, or one of PostgreSQL 18's I/O workers); the
    same scan again, from memory, counts next to nothing."""
    # Over a quarter of shared_buffers (512 MB): scanned through a small ring of buffers, so that
    # PostgreSQL's own cache keeps almost none of it and every scan asks the system for its pages.
    warehouse.execute("create table padded as select n, repeat('x', 200) as pad from generate_series(1, 600000) as n")
    warehouse.commit()
    warehouse.execute("checkpoint")  # written and synced: clean pages, which the page cache can drop
    (path,) = warehouse.execute("select pg_relation_filepath('padded')").fetchone()
    table_file = server.PGDATA / path
    table_mib = table_file.stat().st_size / 2**20
    assert table_mib > 130, table_mib

    def scan_from_a_new_connection() -> float:
        reads = StorageReads([server.MAIN])
        with psycopg.connect(server.url(warehouse.info.dbname)) as reader:
            reader.execute("select count(*) from padded").fetchone()
        return reads.servers_mib()

    fd = os.open(table_file, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)
    from_disk = scan_from_a_new_connection()
    from_memory = scan_from_a_new_connection()
    assert from_disk > 0.9 * table_mib, (from_disk, table_mib)
    assert from_memory < 0.1 * table_mib, (from_memory, table_mib)
