"""The command line of the benchmark (`python -m segments.tools.bench`, `make bench`): its
options, the sizes in turn, the backfill case, and the files written; `--worker` runs one
measurement in a child process instead (see `workers`)."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import psutil

import segments.tools.bench
from segments.settings import LOCAL_DIR, PROJECT_ROOT
from segments.tools import cluster, server
from segments.tools.bench import backfill, progress
from segments.tools.bench.data import size_label
from segments.tools.bench.measure import bench_size, derive
from segments.tools.bench.progress import say
from segments.tools.bench.render import render_chart, render_markdown
from segments.tools.bench.targets import TARGET_CUSTOMERS, evaluate_targets
from segments.tools.bench.workers import WORKERS, run_as_worker

DEFAULT_SIZES = "1000000,10000000"
# 10M lines a year: a mid-sized shop; the history is as long as the size needs at this rate.
DEFAULT_LINES_PER_DAY = 27_400
# The incremental day: a Tuesday in the busy season, so the nightly run has a full day to read.
DEFAULT_END = dt.date(2019, 11, 26)
DEFAULT_SEED = 6


def _sizes(text: str) -> list[int]:
    try:
        sizes = [int(float(part)) for part in text.replace("_", "").split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated line counts, got {text!r}") from None
    if sizes and min(sizes) < 1000:
        raise argparse.ArgumentTypeError("every size must be at least 1000 lines")
    return sizes


def _count(text: str) -> int:
    """A number of workers, snapshots or days: 0 skips the case."""
    try:
        count = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if count < 0:
        raise argparse.ArgumentTypeError(f"expected 0 (skip) or more, got {count}")
    return count


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected YYYY-MM-DD, got {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m segments.tools.bench",
                                     description=segments.tools.bench.__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=_sizes, default=_sizes(DEFAULT_SIZES),
                        help=f"history sizes in invoice lines, comma separated (default {DEFAULT_SIZES})")
    parser.add_argument("--customers", type=int, default=TARGET_CUSTOMERS,
                        help="customer pool, the same at every size (default %(default)s)")
    parser.add_argument("--lines-per-day", type=int, default=DEFAULT_LINES_PER_DAY,
                        help="history length = size / this, in days (default %(default)s: 10M lines a year)")
    parser.add_argument("--end", type=_date, default=DEFAULT_END,
                        help="the day after the history; the nightly run adds this day (default %(default)s)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--out", type=Path, default=LOCAL_DIR / "bench", help="output folder (default .local/bench)")
    parser.add_argument("--source-db", default="bench_source")
    parser.add_argument("--warehouse-db", default="bench_warehouse")
    parser.add_argument("--airflow-db", default="bench_airflow_metadata",
                        help="Airflow metadata database of the dag.test() run (kept between runs)")
    parser.add_argument("--no-airflow", dest="airflow", action="store_false",
                        help="skip the Airflow dag.test() run (its overhead is then not measured)")
    parser.add_argument("--notebook-memory-limit-gib", type=float, default=None,
                        help="address-space limit of the notebook process (default: 80%% of the memory available at "
                             "the start), so that "
                             "a notebook too big for the machine fails alone instead of waking the OOM killer")
    parser.add_argument("--no-overnight-vacuum", dest="overnight_vacuum", action="store_false",
                        help="do not VACUUM and ANALYZE the warehouse before the nightly run (by default it is, as "
                             "autovacuum would have in the day between two runs)")
    parser.add_argument("--keep-databases", action="store_true", help="keep the bench databases afterwards")
    parser.add_argument("--cluster-workers", type=_count, default=0,
                        help="also run the full and the nightly run on a local Citus cluster of a coordinator and "
                             "this many workers, on the same source (default: skip; needs `make citus`)")
    parser.add_argument("--earlier-snapshots", type=_count, default=0,
                        help="also run the nightly date again before and after adding this many earlier published "
                             "snapshots (copies of its rows) to the warehouse, timed (default: skip)")
    parser.add_argument("--backfill-days", type=_count, default=0,
                        help="also backfill this many consecutive dates of the real data through the local "
                             "Airflow scheduler, timed (default: skip)")
    parser.add_argument("--real-data", type=Path, default=PROJECT_ROOT.parent / "shared" / "data" / "online_retail.csv.gz",
                        help="the UCI Online Retail file the backfill case loads (default %(default)s)")
    parser.add_argument("--server-wait-minutes", type=float, default=30.0,
                        help="how long to wait for the local PostgreSQL port to be free (default %(default)s)")
    parser.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    parser.add_argument("--spec", type=Path, help=argparse.SUPPRESS)
    return parser


def _start_server(wait_minutes: float) -> None:
    deadline = time.monotonic() + wait_minutes * 60
    while True:
        try:
            server.start()
            return
        except Exception as error:  # noqa: BLE001 - another checkout's server may hold the port
            if time.monotonic() > deadline:
                raise RuntimeError(f"The local PostgreSQL did not become available: {error}") from error
            say(f"the local PostgreSQL is not available yet ({str(error).splitlines()[0][:120]}); retrying in 30 s")
            time.sleep(30)


def _git(*args: str) -> str:
    try:
        return subprocess.run(["git", *args], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return ""


def code_version() -> str:
    """The checkout's commit, with the files changed in the working tree (read-only git)."""
    commit = _git("rev-parse", "--short", "HEAD").strip()
    changed = [line[3:] for line in _git("status", "--porcelain", "--untracked-files=no").splitlines() if line.strip()]
    return f"{commit} + uncommitted changes to {', '.join(sorted(changed))}" if changed else commit


def _environment(argv: list[str]) -> dict:
    return {
        "started_at": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "memory_gib": psutil.virtual_memory().total / 2**30,
        "platform": f"{platform.system()} {platform.machine()}, Python {platform.python_version()}",
        "commit": code_version(),
        "command": "python -m segments.tools.bench " + " ".join(argv),
    }


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    if args.worker:
        return run_as_worker(args.worker, args.spec)

    progress.start_clock()
    if args.notebook_memory_limit_gib is None:
        memory = psutil.virtual_memory()
        args.notebook_memory_limit_gib = round(min(0.8 * memory.available, 0.8 * memory.total) / 2**30, 1)
    out = args.out.resolve()
    work_dir = out / "work"
    work_dir.mkdir(parents=True, exist_ok=True)
    report = {
        "environment": _environment(argv),
        "settings": {"sizes": args.sizes, "customers": args.customers, "lines_per_day": args.lines_per_day,
                     "end": args.end.isoformat(), "seed": args.seed, "airflow": args.airflow,
                     "overnight_vacuum": args.overnight_vacuum, "earlier_snapshots": args.earlier_snapshots,
                     "notebook_memory_limit_gib": args.notebook_memory_limit_gib},
        "sizes": [],
    }
    say(f"sizes {', '.join(size_label(s) for s in args.sizes)}; output in {out}")
    _start_server(args.server_wait_minutes)
    cluster_was_running = bool(args.cluster_workers) and cluster.status().running
    for lines in args.sizes:
        code_before = code_version()
        record = bench_size(lines, args, work_dir)
        record["code_version"] = code_before
        code_after = code_version()
        if code_after != code_before:
            record["warnings"].append(f"the code changed during these measurements: {code_before} -> {code_after}")
        record["derived"] = derive(record)
        report["sizes"].append(record)
        _write(report, out)  # partial results survive a later failure
    if args.backfill_days:
        say(f"backfill of {args.backfill_days} dates of {args.real_data} through the local Airflow scheduler ...")
        report["backfill"] = backfill.measure_backfill(args.backfill_days, args.real_data)
    if args.cluster_workers and not cluster_was_running and not args.keep_databases:
        # Started for the benchmark, so stopped with it, as its databases are dropped.
        say("stopping the local Citus cluster the benchmark started")
        cluster.stop()
    markdown = _write(report, out)
    print(markdown)
    say(f"wrote {out / 'bench.md'}, {out / 'bench.json'}, {out / 'bench.png'}")
    return 1 if any(record["errors"] for record in report["sizes"]) else 0


def _write(report: dict, out: Path) -> str:
    """bench.md, bench.json and bench.png from the report so far; return the Markdown."""
    report["targets"] = evaluate_targets(report["sizes"])
    markdown = render_markdown(report)
    if "backfill" in report:
        markdown += "\n" + backfill.render_markdown(report["backfill"])
    (out / "bench.md").write_text(markdown)
    (out / "bench.json").write_text(json.dumps(report, indent=2, default=str))
    if report["sizes"]:
        render_chart(report, out / "bench.png")
    return markdown
