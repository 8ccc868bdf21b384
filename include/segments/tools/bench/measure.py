"""One size of the benchmark: its data, the runs measured on it in order, and the numbers derived."""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

from segments.pipeline.stages import SEQUENCE
from segments.tools import server
from segments.tools.bench.agreement import agreement
from segments.tools.bench.data import append_day, history_days, load_source, size_label, vacuum_warehouse
from segments.tools.bench.interference import BUSY_MACHINE_SHARE
from segments.tools.bench.progress import say
from segments.tools.bench.snapshots import add_earlier_snapshots
from segments.tools.bench.workers import run_worker


def bench_size(lines: int, args: argparse.Namespace, work_dir: Path) -> dict:
    """Generate a history of `lines`, measure the notebook, the full run, the nightly run and
    (unless --no-airflow) Airflow on it; the record of every measurement, errors included."""
    label = size_label(lines)
    end = args.end
    start = end - dt.timedelta(days=history_days(lines, args.lines_per_day))
    as_of_full, as_of_nightly = end, end + dt.timedelta(days=1)
    say(f"=== {label} lines: history {start} .. {end - dt.timedelta(days=1)}, {args.customers:,} customers ===")
    for name in (args.source_db, args.warehouse_db):
        server.drop_database(name)
        server.create_database(name)
    source_url, warehouse_url = server.url(args.source_db), server.url(args.warehouse_db)
    admin_url = server.url("postgres")
    record: dict = {"size": lines, "label": label, "errors": [], "warnings": [], "notes": []}

    data, day_text = load_source(source_url, lines, args.customers, start, end, args.seed, label)
    record["data"] = data
    say(f"{label}: {data['history_lines']:,} history lines loaded at {data['load_lines_per_second']:,} lines/s; "
        f"{data['incremental_day_lines']:,} lines held back for {end}")

    common = {"source_url": source_url, "warehouse_url": warehouse_url,
              "reports_dir": str(work_dir / f"reports-{label}")}
    # The notebook first: the memory it takes (all of it, at 50M lines) evicts the warehouse's pages
    # from the system's cache, and a nightly run measured after it read them from disk (its
    # aggregates 2.9 s instead of 1.0 s at 50M lines). Measured first, it leaves the pipeline's
    # runs the cache a warehouse server keeps between two nights, at every size alike.
    limit = int(args.notebook_memory_limit_gib * 2**30) if args.notebook_memory_limit_gib else None
    labels_path = work_dir / f"notebook-labels-{label}.csv"
    record["notebook"] = run_worker("notebook", f"{label} notebook", {
        **common, "as_of": as_of_full.isoformat(), "labels_path": str(labels_path), "memory_limit_bytes": limit,
    }, work_dir, admin_url)
    record["notebook"]["memory_limit_gib"] = args.notebook_memory_limit_gib

    full_run_id = f"bench__full__{as_of_full}"
    record["full"] = run_worker("pipeline", f"{label} full run", {
        **common, "as_of": as_of_full.isoformat(), "run_id": full_run_id,
    }, work_dir, admin_url)

    if args.cluster_workers:
        record["cluster_full"] = _on_cluster(label, "full run", as_of_full, args.cluster_workers, common, work_dir,
                                             fresh=True)

    full_assigned = "error" not in record["full"] or record["full"].get("quality_gate_refused")
    if full_assigned and "error" not in record["notebook"]:
        say(f"{label}: comparing segments")
        record["agreement"] = agreement(warehouse_url, full_run_id, str(labels_path))
    else:
        record["agreement"] = {"error": "the full run or the notebook failed"}

    say(f"{label}: appending {data['incremental_day_lines']:,} lines of {end} to the source")
    record["append"] = append_day(source_url, day_text)
    if args.overnight_vacuum:
        # A nightly run follows a day in which autovacuum has vacuumed and analysed yesterday's
        # writes; the benchmark's minutes between the runs may or may not have seen that happen.
        say(f"{label}: VACUUM and ANALYZE of the warehouse (what autovacuum does between two nightly runs)")
        record["overnight_vacuum_seconds"] = vacuum_warehouse(warehouse_url)
    record["nightly"] = run_worker("pipeline", f"{label} nightly", {
        **common, "as_of": as_of_nightly.isoformat(), "run_id": f"bench__nightly__{as_of_nightly}",
    }, work_dir, admin_url)

    if args.cluster_workers:
        record["cluster_nightly"] = _on_cluster(label, "nightly", as_of_nightly, args.cluster_workers, common,
                                                work_dir, fresh=False)

    if args.airflow:
        record["airflow"] = _measure_airflow(label, as_of_nightly, args.airflow_db, common, work_dir, admin_url)
    else:
        record["airflow"] = {"skipped": "--no-airflow"}

    if args.earlier_snapshots:
        _around_earlier_snapshots(record, label, as_of_nightly, args.earlier_snapshots, common, work_dir, admin_url)

    record["warnings"] += disturbed_measurements(record)
    for part in ("full", "notebook", "nightly", "airflow", "cluster_full", "cluster_nightly", "rerun",
                 "rerun_after_snapshots"):
        if "error" not in record.get(part, {}):
            continue
        if part == "notebook" and record[part].get("out_of_memory"):
            # A measured outcome, not a failure of the benchmark: the notebook does not fit.
            record["notes"].append(f"the notebook approach ran out of memory: {record[part]['error']}")
        else:
            record["errors"].append(f"{part}: {record[part]['error']}")
    if not args.keep_databases:
        for name in (args.source_db, args.warehouse_db):
            server.drop_database(name)
        if args.cluster_workers:
            from segments.tools import cluster

            cluster.recreate_warehouse(args.cluster_workers)  # empty again: the shards take disk
    return record


def disturbed_measurements(record: dict) -> list[str]:
    """A warning for each of the full run, the notebook and the nightly run taken while other
    processes used more than BUSY_MACHINE_SHARE of the machine's CPU. (On a cluster, the shards'
    servers work for the run and are not sampled: those runs are not judged.)"""
    warnings = []
    for part in ("full", "notebook", "nightly"):
        others = record.get(part, {}).get("other_processes_cpu_share")
        if others is not None and others > BUSY_MACHINE_SHARE:
            warnings.append(f"other processes used {others:.0%} of the machine's CPU during the {part} "
                            "measurement: its times are likely inflated; measure again on a quiet machine")
    return warnings


def _on_cluster(label: str, run: str, as_of: dt.date, worker_count: int, common: dict, work_dir: Path,
                fresh: bool) -> dict:
    """The same run of the pipeline with the warehouse on a local Citus cluster (the source stays)."""
    from segments.tools import cluster

    if fresh:
        cluster.recreate_warehouse(worker_count)
    kind = "full" if run == "full run" else "nightly"
    return run_worker("pipeline", f"{label} {run} on Citus ({worker_count} workers)", {
        **common, "warehouse_url": cluster.warehouse_url(), "as_of": as_of.isoformat(),
        "run_id": f"bench__cluster_{kind}__{as_of}",
    }, work_dir, server.url("postgres", port=cluster.coordinator().port))


def _around_earlier_snapshots(record: dict, label: str, as_of: dt.date, snapshots: int, common: dict,
                              work_dir: Path, admin_url: str) -> None:
    """The nightly date run again, then again after `snapshots` earlier published snapshots were
    added (and the warehouse vacuumed, as overnight): the same work on tables `snapshots` times larger."""
    spec = {**common, "as_of": as_of.isoformat()}
    rerun_id = f"bench__rerun__{as_of}"
    record["rerun"] = run_worker("pipeline", f"{label} rerun", {**spec, "run_id": rerun_id}, work_dir, admin_url)
    if "error" in record["rerun"]:
        return
    say(f"{label}: adding {snapshots:,} earlier published snapshots (copies of the rerun's rows)")
    record["earlier_snapshots"] = add_earlier_snapshots(common["warehouse_url"], rerun_id, as_of, snapshots)
    record["earlier_snapshots"]["vacuum_seconds"] = vacuum_warehouse(common["warehouse_url"])
    record["rerun_after_snapshots"] = run_worker(
        "pipeline", f"{label} rerun after {snapshots:,} snapshots",
        {**spec, "run_id": f"bench__rerun_after_snapshots__{as_of}"}, work_dir, admin_url)


def _measure_airflow(label: str, as_of: dt.date, airflow_db: str, common: dict, work_dir: Path,
                     admin_url: str) -> dict:
    """The nightly day again through Airflow's `dag.test()`: its wall time beyond the stages'."""
    server.create_database(airflow_db)
    log_path = work_dir / f"airflow-{label}.log"
    airflow = run_worker("airflow", f"{label} Airflow dag.test()", {
        **common, "as_of": as_of.isoformat(), "airflow_url": server.url(airflow_db, "postgresql+psycopg"),
    }, work_dir, admin_url, log_path=log_path)
    airflow["log"] = str(log_path)
    if "error" not in airflow and airflow.get("stages"):
        stage_sum = sum(airflow["stages"].values())
        airflow["stage_seconds_sum"] = round(stage_sum, 3)
        # The process from exec to exit, without the one-off metadata migration, minus the work.
        airflow["overhead_seconds"] = round(airflow["process_seconds"] - airflow["metadata_check_seconds"]
                                            - stage_sum, 3)
    if airflow.get("state") not in (None, "success", "DagRunState.SUCCESS"):
        airflow.setdefault("error", f"the Airflow run ended {airflow['state']}")
    return airflow


def _stage_total(part: dict, until: str = SEQUENCE[-1]) -> float | None:
    """Seconds of the part's stages up to and including `until`."""
    stages = part.get("stages")
    if not stages or "error" in part:
        return None
    return round(sum(stages.get(name, 0.0) for name in SEQUENCE[: SEQUENCE.index(until) + 1]), 3)


def derive(record: dict) -> dict:
    """Totals and ratios of one size."""
    full, nightly, notebook = record["full"], record["nightly"], record["notebook"]
    d: dict = {}
    d["full_total_s"] = _stage_total(full)
    d["nightly_total_s"] = _stage_total(nightly)
    # Analysts see the new snapshot once it is published; the report follows it.
    d["nightly_until_published_s"] = _stage_total(nightly, until="publish")
    d["notebook_total_s"] = round(sum(notebook["steps"].values()), 3) if "error" not in notebook else None
    extract_s = full.get("stages", {}).get("extract")
    copy_s = full.get("extract_copy_seconds")
    extracted = full.get("lines_extracted")
    d["extract_lines_per_s"] = round(extracted / extract_s) if extract_s and extracted else None
    d["extract_copy_lines_per_s"] = round(extracted / copy_s) if copy_s and extracted else None

    def ratio(a, b):
        return a / b if a is not None and b else None

    d["nightly_over_notebook_time"] = ratio(d["nightly_total_s"], d["notebook_total_s"])
    d["nightly_until_published_over_notebook_time"] = ratio(d["nightly_until_published_s"], d["notebook_total_s"])
    d["full_over_notebook_time"] = ratio(d["full_total_s"], d["notebook_total_s"])
    if "cluster_full" in record:
        d["cluster_full_total_s"] = _stage_total(record["cluster_full"])
        d["cluster_nightly_until_published_s"] = _stage_total(record["cluster_nightly"], until="publish")
        d["cluster_full_over_single"] = ratio(d["cluster_full_total_s"], d["full_total_s"])
        d["cluster_nightly_over_single"] = ratio(d["cluster_nightly_until_published_s"], d["nightly_until_published_s"])
    if "rerun_after_snapshots" in record:
        d["rerun_until_published_s"] = _stage_total(record["rerun"], until="publish")
        d["rerun_after_snapshots_until_published_s"] = _stage_total(record["rerun_after_snapshots"], until="publish")
        d["rerun_after_snapshots_over_before"] = ratio(d["rerun_after_snapshots_until_published_s"],
                                                       d["rerun_until_published_s"])
    notebook_rss = notebook.get("peak_rss_mib") if "error" not in notebook else None
    d["nightly_over_notebook_memory"] = ratio(nightly.get("peak_rss_mib") if "error" not in nightly else None,
                                              notebook_rss)
    with_backends = None
    if "error" not in nightly and nightly.get("pg_backends_peak_uss_mib") is not None:
        with_backends = nightly["peak_rss_mib"] + nightly["pg_backends_peak_uss_mib"]
    d["nightly_with_backends_mib"] = with_backends
    d["nightly_with_backends_over_notebook_memory"] = ratio(with_backends, notebook_rss)
    return d
