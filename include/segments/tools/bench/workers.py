"""The measurements, each in a process of its own: the pipeline's stages, the notebook, Airflow.

The parent writes a JSON spec, starts `python -m segments.tools.bench --worker KIND --spec PATH`
and waits for it with `wait4` (the child's peak RSS) while `memory.BackendSampler` samples the
PostgreSQL backends serving it; the child writes its result as JSON next to the spec.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import time
import traceback
from pathlib import Path

from segments import db, queries
from segments.tools import cluster, server
from segments.tools.bench import progress
from segments.tools.bench.interference import MachineShare
from segments.tools.bench.memory import MIB, BackendSampler, limit_address_space, peak_virtual_mib
from segments.tools.bench.progress import say
from segments.tools.bench.storage import StorageReads

NOTEBOOK_STEPS = ("read", "clean", "rfm", "kmeans")

# `segments.tools.runner` is imported inside the workers, not here: the Airflow worker times that
# import as part of Airflow's fixed cost.


def _with_app_name(url: str, name: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}application_name={name}"


def _say(spec: dict, message: str) -> None:
    say(f"  {spec['label']}: {message}")


def pipeline_worker(spec: dict) -> dict:
    """Run every stage for one snapshot date through the plain functions, timing each."""
    os.environ["SEGMENTS_REPORTS_DIR"] = spec["reports_dir"]
    from segments.errors import QualityGateError
    from segments.pipeline.snapshot import resolve
    from segments.settings import Settings
    from segments.tools import runner

    settings = Settings()
    as_of = dt.date.fromisoformat(spec["as_of"])
    now = dt.datetime.combine(as_of, dt.time(2), dt.timezone.utc)
    seconds: dict[str, float] = {}
    result: dict = {"as_of": spec["as_of"], "stages": seconds}
    done: dict[str, dict] = {}

    def timed(name: str, elapsed: float, stage_result: dict) -> None:
        seconds[name] = round(elapsed, 3)
        done[name] = stage_result
        _say(spec, f"{name} done in {seconds[name]:.2f} s")

    source_url = _with_app_name(spec["source_url"], spec["app_name"])
    warehouse_url = _with_app_name(spec["warehouse_url"], spec["app_name"])
    with db.connect_url(source_url) as source, db.connect_url(warehouse_url) as warehouse:
        snapshot = resolve(now, now, spec["run_id"], {}, settings)
        try:
            runner.run_stages(source, warehouse, snapshot, settings, on_stage=timed)
        except QualityGateError as error:
            # Recorded as a failure of the run; its stored assignments still serve the comparison.
            result["quality_gate_refused"] = True
            result["error"] = str(error)
        extracted, featured, trained = done["extract"], done["features"], done["training"]
        result.update(
            lines_extracted=extracted["lines_extracted"],
            window_start=extracted["window_start"],
            window_end=extracted["window_end"],
            extract_copy_seconds=extracted["seconds"],
            changed_days_found_by=extracted["changed_days_found_by"],
            customers_segmented=featured["customers_segmented"],
            customers_excluded=featured["customers_excluded"],
            k=trained["k"],
            silhouette=trained["metrics"].get("silhouette"),
            segment_sizes=trained["metrics"].get("segment_sizes"),
            changed_segment_share=trained["metrics"].get("changed_segment_share"),
            scored_in=trained["scored_in"],
            kmeans_initialised_from=trained["metrics"].get("initialised_from"),
        )
    return result


def notebook_worker(spec: dict) -> dict:
    """The notebook approach: the whole invoice table into pandas, RFM, log1p, scale, K-Means."""
    import numpy as np
    import pandas as pd
    import sqlalchemy
    from sklearn.cluster import KMeans
    from sklearn.preprocessing import StandardScaler

    seconds: dict[str, float] = {}
    result: dict = {"as_of": spec["as_of"], "steps": seconds}
    engine = sqlalchemy.create_engine(
        _with_app_name(spec["source_url"].replace("postgresql://", "postgresql+psycopg://", 1), spec["app_name"])
    )
    # Through pandas and SQLAlchemy, as the notebook reads it: that is the cost being measured.
    (read_everything,) = queries.statements("source/bench_notebook_read.sql")

    _say(spec, "read_sql('select * from retail.invoice_lines') ...")
    started = time.perf_counter()
    df = pd.read_sql(read_everything, engine)
    seconds["read"] = round(time.perf_counter() - started, 3)
    result["lines_read"] = len(df)
    _say(spec, f"read {len(df):,} lines in {seconds['read']:.1f} s")

    started = time.perf_counter()
    df = df.dropna(subset=["customer_id"])
    df = df[~df["invoice_no"].str.startswith("C")]
    df = df[(df["quantity"] > 0) & (df["unit_price"] > 0)]
    df = df.drop_duplicates()
    seconds["clean"] = round(time.perf_counter() - started, 3)
    result["lines_clean"] = len(df)
    _say(spec, f"cleaned to {len(df):,} lines in {seconds['clean']:.1f} s")

    started = time.perf_counter()
    snapshot = pd.Timestamp(spec["as_of"])
    df["revenue"] = df["quantity"] * df["unit_price"]
    rfm = df.groupby("customer_id").agg(
        last_purchase=("invoice_date", "max"), frequency=("invoice_no", "nunique"), monetary=("revenue", "sum")
    )
    rfm["recency"] = (snapshot - rfm["last_purchase"]).dt.days
    seconds["rfm"] = round(time.perf_counter() - started, 3)
    del df

    started = time.perf_counter()
    scaled = StandardScaler().fit_transform(np.log1p(rfm[["recency", "frequency", "monetary"]].astype(float)))
    rfm["segment"] = KMeans(n_clusters=3, n_init=10, random_state=42).fit_predict(scaled)
    seconds["kmeans"] = round(time.perf_counter() - started, 3)
    _say(spec, f"RFM + K-Means on {len(rfm):,} customers in {seconds['rfm'] + seconds['kmeans']:.1f} s")

    rfm[["segment"]].to_csv(spec["labels_path"])
    result["customers_segmented"] = len(rfm)
    result["labels_path"] = spec["labels_path"]
    return result


def airflow_worker(spec: dict) -> dict:
    """One real Airflow run of the day (`dag.test()`, as `segments run`), with its recorded stage times."""
    os.environ["AIRFLOW_CONN_RETAIL_SOURCE"] = spec["source_url"]
    os.environ["AIRFLOW_CONN_SEGMENT_WAREHOUSE"] = spec["warehouse_url"]
    os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = spec["airflow_url"]
    os.environ["SEGMENTS_REPORTS_DIR"] = spec["reports_dir"]
    from segments.tools import local

    local.configure()
    started = time.perf_counter()
    local.ensure_airflow_metadata()
    metadata_seconds = time.perf_counter() - started

    _say(spec, "dag.test() ...")
    started = time.perf_counter()
    from segments.tools import runner

    imported = time.perf_counter()
    state = runner.run(dt.date.fromisoformat(spec["as_of"]))
    finished = time.perf_counter()
    with db.connect_url(spec["warehouse_url"]) as conn:
        runs = queries.fetch_all(conn, "reads/bench_latest_airflow_run.sql",
                                 {"as_of_date": dt.date.fromisoformat(spec["as_of"])})
        run_id = runs[0]["run_id"] if runs else None
        stage_seconds = {}
        if run_id:
            (row,) = queries.fetch_all(conn, "internal/run_attempt__stage_seconds.sql", {"run_id": run_id})
            stage_seconds = row["stage_seconds"]
    _say(spec, f"dag.test() ended {state} in {finished - started:.1f} s")
    return {
        "as_of": spec["as_of"],
        "state": state,
        "airflow_run_id": run_id,
        "metadata_check_seconds": round(metadata_seconds, 3),
        "import_seconds": round(imported - started, 3),
        "dag_test_seconds": round(finished - imported, 3),
        "stages": stage_seconds,
    }


WORKERS = {"pipeline": pipeline_worker, "notebook": notebook_worker, "airflow": airflow_worker}


def run_as_worker(kind: str, spec_path: Path) -> int:
    """The child's side: run one measurement, write its result (or its failure) where the spec says."""
    spec = json.loads(spec_path.read_text())
    progress.start_clock(spec["t0"])
    result_path = Path(spec["result_path"])
    limit_address_space(spec.get("memory_limit_bytes"))
    try:
        spec["worker_started_at"] = time.time()
        result = WORKERS[kind](spec)
        result["worker_seconds"] = round(time.time() - spec["worker_started_at"], 3)
        result["peak_virtual_mib"] = peak_virtual_mib()
        result["worker_started_at"] = spec["worker_started_at"]
        result_path.write_text(json.dumps(result, default=str))
        return 0
    except MemoryError:
        result_path.write_text(json.dumps({
            "error": f"out of memory (address-space limit {spec.get('memory_limit_bytes', 0) / 2**30:.1f} GiB)",
            "out_of_memory": True, "worker_started_at": spec["worker_started_at"],
        }))
        return 1
    except Exception as error:  # noqa: BLE001 - recorded in the results, the benchmark goes on
        out_of_memory = "out of memory" in str(error).lower()
        result_path.write_text(json.dumps({
            "error": f"{type(error).__name__}: {error}", "traceback": traceback.format_exc(),
            "out_of_memory": out_of_memory, "worker_started_at": spec["worker_started_at"],
        }))
        return 1


def run_worker(kind: str, label: str, spec: dict, work_dir: Path, admin_url: str, log_path: Path | None = None) -> dict:
    """The parent's side: run one measurement in a child process; add its wall time, peak RSS and
    its backends' memory."""
    name = label.replace(" ", "-")
    spec = {**spec, "label": label, "t0": progress.started_at(), "app_name": f"bench-{name}",
            "result_path": str(work_dir / f"{name}.result.json")}
    spec_path = work_dir / f"{name}.spec.json"
    spec_path.write_text(json.dumps(spec))
    Path(spec["result_path"]).unlink(missing_ok=True)
    say(f"{label}: starting ({kind} worker)")
    # Airflow's backends are its own and many; its run is timed, not sampled.
    sampler = BackendSampler(admin_url, spec["app_name"] if kind != "airflow" else None, label)
    log = log_path.open("w") if log_path else None
    servers = [server.MAIN, *cluster.nodes()]
    machine, reads = MachineShare(servers), StorageReads(servers)
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "segments.tools.bench", "--worker", kind, "--spec", str(spec_path)],
        stdout=log or subprocess.DEVNULL, stderr=log or None,
    )
    sampler.start()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - started
    sampler.stop()
    if log:
        log.close()
    result_path = Path(spec["result_path"])
    result = json.loads(result_path.read_text()) if result_path.exists() else {
        "error": f"the worker exited with status {process.returncode} and no result"
        + (f" (log: {log_path})" if log_path else "")
    }
    result.update(
        process_seconds=round(wall, 3),
        exit_code=process.returncode,
        peak_rss_mib=round(usage.ru_maxrss / 1024, 1),  # ru_maxrss is in KiB on Linux
    )
    if kind != "airflow":
        result.update(
            pg_backends_peak_uss_mib=round(sampler.peak_uss / MIB, 1) if sampler.samples else None,
            pg_backends_peak_rss_mib=round(sampler.peak_rss / MIB, 1) if sampler.samples else None,
            pg_backend_samples=sampler.samples,
            other_processes_cpu_share=round(machine.others(
                wall, usage.ru_utime + usage.ru_stime), 3),
            storage_read_mib=reads.servers_mib(),
            worker_storage_read_mib=round(usage.ru_inblock * 512 / MIB, 1),  # ru_inblock counts 512-byte blocks
        )
        if sampler.error:
            result["pg_sampler_error"] = sampler.error
    if "error" in result:
        say(f"{label}: FAILED: {result['error']}")
    else:
        say(f"{label}: done in {wall:.1f} s, peak RSS {result['peak_rss_mib']:,.0f} MiB")
    return result
