"""The `segments` command: run the local database, fill the source, run and inspect the DAG."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from collections.abc import Callable
from pathlib import Path



class ProgressLine:
    """A single self-updating line on stderr: count, rate and, when the total is known, percent.

    Only a terminal sees it update; a log gets the final line alone.
    """

    def __init__(self, label: str, total: int | None = None, unit: str = "lines") -> None:
        self.label, self.total, self.unit, self.started = label, total, unit, time.perf_counter()
        self.live = sys.stderr.isatty()

    def __call__(self, done: int) -> None:
        if self.live:
            print(f"\r{self._line(done)}", end="", file=sys.stderr, flush=True)

    def finish(self, done: int) -> None:
        start = "\r" if self.live else ""
        print(f"{start}{self._line(done)} — done in {time.perf_counter() - self.started:.1f} s", file=sys.stderr)

    def _line(self, done: int) -> str:
        rate = done / max(time.perf_counter() - self.started, 1e-9)
        share = f" ({done / self.total:.0%})" if self.total else ""
        return f"{self.label}: {done:,} {self.unit}{share}, {rate:,.0f} {self.unit}/s"


def _warehouse():
    """A connection to the warehouse the environment (or the local default) names."""
    from segments import db
    from segments.tools import local

    local.configure()
    return db.connect_url(local.warehouse_url())


def _source():
    """A connection to the source the environment (or the local default) names."""
    from segments import db
    from segments.tools import local

    local.configure()
    return db.connect_url(local.source_url())


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date as YYYY-MM-DD, got {text!r}") from None


def _integers(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None


def _names(allowed) -> Callable[[str], tuple[str, ...]]:
    def parse(text: str) -> tuple[str, ...]:
        names = tuple(part.strip() for part in text.split(","))
        unknown = [name for name in names if name not in allowed]
        if unknown:
            raise argparse.ArgumentTypeError(f"unknown {', '.join(unknown)}; choose from {', '.join(allowed)}")
        return names

    return parse


def cmd_db(args: argparse.Namespace) -> int:
    from segments.tools import server

    if args.action == "start":
        status = server.start()
    elif args.action == "stop":
        status = server.stop()
    elif args.action == "status":
        status = server.status()
    else:
        for role, database in server.DATABASES.items():
            print(f"{role:<10} {server.url(database)}")
        print(f"{'analyst':<10} {server.analyst_url(server.DATABASES['warehouse'])}  (read-only: BI tools, notebooks)")
        return 0
    # After a stop, pg_ctl's "no server running" is the expected state, not a problem to show.
    detail = "" if status.running or args.action == "stop" else f": {status.detail}"
    print(f"PostgreSQL {'running' if status.running else 'stopped'} on 127.0.0.1:{status.port} "
          f"(data in {status.pgdata}){detail}")
    return 0 if status.running or args.action == "stop" else 1


def cmd_load(args: argparse.Namespace) -> int:
    from segments.tools import load

    progress = ProgressLine(f"Loading {args.path}")
    with _source() as conn:
        loaded = load.load_file(conn, args.path, replace=not args.append, progress=progress,
                                date_format=args.date_format)
    progress.finish(loaded.lines)
    how = "as given by --date-format" if args.date_format else "detected from every date in the file"
    print(f"Dates read as {loaded.date_format} ({how}).")
    print(loaded.summary())
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    from segments.tools import generate, load

    if args.mix and args.append:
        print("--mix replaces the source: a planted truth describes one generation, not an appended one.",
              file=sys.stderr)
        return 2
    progress = ProgressLine("Generating", total=args.lines)
    chunks = generate.generate_copy_chunks(args.lines, args.customers, args.start, args.end, seed=args.seed,
                                           mix=args.mix)
    planted = generate.planted_archetypes(args.customers, args.seed, args.mix) if args.mix else ()
    with _source() as conn:
        lines = load.copy_into_source(conn, chunks, replace=not args.append, progress=progress, planted=planted)
    progress.finish(lines)
    print(f"{lines:,} synthetic lines ({args.start} to {args.end}, seed {args.seed}) in retail.invoice_lines.")
    if args.mix:
        print(f"Customers drawn from the {args.mix!r} mix of archetypes; the truth is in retail.customer_archetypes.")
    return 0


def cmd_source_capture(args: argparse.Namespace) -> int:
    from segments.pipeline import change_capture
    from segments.settings import Settings

    import psycopg

    source_table = Settings().source_table
    with _source() as conn:
        try:
            if args.action == "install":
                change_capture.install(conn, source_table)
            elif args.action == "remove":
                change_capture.remove(conn, source_table)
            elif args.action == "prune":
                pruned = change_capture.prune(conn, source_table, args.keep_days)
                print(f"Pruned {pruned:,} log entries older than {args.keep_days} days.")
        except (psycopg.errors.UndefinedTable, psycopg.errors.InvalidSchemaName):
            print(f"segments source-capture {args.action}: the source has no table {source_table}. Load data first "
                  "(`segments load`), or set SEGMENTS_SOURCE_TABLE to the shop's invoice table.", file=sys.stderr)
            return 1
        except psycopg.errors.InsufficientPrivilege as error:
            print(f"segments source-capture {args.action}: {error.diag.message_primary}. Triggers on {source_table} "
                  "need its owner: run this with the airflow connection retail_source (AIRFLOW_CONN_RETAIL_SOURCE) "
                  "set to the owner's account, once; nightly runs only read the log.", file=sys.stderr)
            return 1
        print(change_capture.describe(conn, source_table))
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from segments.tools import local

    local.configure()
    local.ensure_airflow_metadata()
    from segments.tools import runner

    return runner.run_dag(args.as_of, {
        "k": str(args.k), "full_refresh": args.full_refresh, "force": args.force,
        "lookback_days": args.lookback_days, "history_days": args.history_days,
    })


def cmd_show(args: argparse.Namespace) -> int:
    from segments.outputs import report

    with _warehouse() as conn:
        print(report.profiles_table(conn, args.as_of))
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from segments.outputs import report
    from segments.settings import Settings

    with _warehouse() as conn:
        as_of = args.as_of
        if as_of is None:
            from segments.pipeline import warehouse

            current = warehouse.current_snapshot(conn)
            if current is None:
                raise RuntimeError("No snapshot published yet: run `segments run` first.")
            as_of = current["as_of_date"]
        path = report.build_report(conn, as_of, Settings().reports_dir)
    print(f"Report for {as_of}: {path}")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from segments.outputs import operations

    with _warehouse() as conn:
        print(operations.status_table(conn, args.limit))
    return 0


def cmd_rollback(args: argparse.Namespace) -> int:
    from segments.outputs import operations

    with _warehouse() as conn:
        current = operations.rollback(conn, args.as_of)
    now = f"{current['as_of_date']} is current now" if current else "no snapshot is published now"
    print(f"Snapshot {args.as_of} withdrawn from every published table; {now}.")
    print("Rerun the date (`segments run --as-of` or clear its run in Airflow) to publish it again.")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from pathlib import Path

    from segments import db
    from segments.outputs import export
    from segments.tools import local

    local.configure()
    suffix = "".join(f"-{name.lower().replace(' ', '-')}" for name in args.segment or ())
    output = Path(args.output or f"audience-{args.as_of}{suffix}.{args.format}")
    progress = ProgressLine(f"Exporting {args.as_of}", unit="customers")
    with db.connect_url(local.analyst_url()) as conn:
        written = export.export(conn, args.as_of, output, args.format, args.segment, on_batch=progress)
    progress.finish(written)
    print(f"{written:,} customers of snapshot {args.as_of} written to {output} ({args.format}).")
    return 0


def cmd_notebook(args: argparse.Namespace) -> int:
    import os
    from pathlib import Path

    from segments.settings import PROJECT_ROOT
    from segments.tools import local

    local.configure()
    # The notebook reads the warehouse as the read-only role; the URL stays in the environment.
    os.environ.setdefault("SEGMENTS_ANALYST_URL", local.analyst_url())
    jupyter = Path(sys.executable).with_name("jupyter")
    os.execv(jupyter, [str(jupyter), "lab", str(PROJECT_ROOT / "notebooks" / "explore_segments.ipynb")])


def cmd_cluster(args: argparse.Namespace) -> int:
    from segments.tools import citus, cluster

    try:
        if args.action == "build":
            citus.ensure(say=lambda message: print(message, file=sys.stderr))
            return 0
        if args.action == "distribute":
            return _distribute_warehouse()
        if args.action == "start":
            state = cluster.start(args.workers)
        elif args.action == "stop":
            state = cluster.stop()
        else:
            state = cluster.status()
    except citus.CitusBuildError as error:
        print(error, file=sys.stderr)
        return 2
    print(cluster.describe(state))
    return 0 if state.running or args.action == "stop" else 1


def _distribute_warehouse() -> int:
    from segments.pipeline import warehouse
    from segments.settings import Settings

    with _warehouse() as conn:
        # Setting the schema up distributes it on a Citus coordinator.
        warehouse.ensure_schema(conn, Settings())
        distributed = warehouse.runs_on_citus(conn)
    if not distributed:
        print("The warehouse has no citus extension: it is a single PostgreSQL, nothing to distribute.", file=sys.stderr)
        return 2
    print("The warehouse's tables are distributed (per-customer tables sharded by customer_id, model tables "
          "replicated, the rest on the coordinator).")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from segments.settings import Settings
    from segments.tools import evaluate, server

    server.start()
    settings = Settings()
    candidates = evaluate.all_candidates() if args.candidates == "all" else [evaluate.default_candidate(settings)]
    started = time.perf_counter()

    def say(message: str) -> None:
        if sys.stderr.isatty():
            print(f"[{time.perf_counter() - started:6.0f} s] {message}", file=sys.stderr, flush=True)

    given = {name: getattr(args, name) for name in ("mixes", "seeds", "lines", "customers")
             if getattr(args, name) is not None}
    result = evaluate.evaluate(candidates, settings, args.real, say=say, **given)
    rows = result["rows"]
    chosen = next(row for row in rows if row["candidate"] == result["chosen"])
    print(evaluate.render(rows, chosen, result["reason"], result["supervised_ceiling_ari"]))
    print(f"\nWritten to {evaluate.write(result, args.output or evaluate.OUTPUT)}")
    return 0


def cmd_airflow(args: argparse.Namespace) -> int:
    from segments.tools import airflow_stack

    if args.action == "start":
        url = airflow_stack.start(args.port)
        print(f"Airflow is up at {url} (DAG customer_segmentation, plugin pages included).")
        print(f"Log in as {airflow_stack.ADMIN_USER} with password {airflow_stack.admin_password()}")
        print("Stop it with `make airflow-stop`.")
        return 0
    if args.action == "stop":
        for name in airflow_stack.stop():
            print(f"{name} did not stop within {airflow_stack.STOP_TIMEOUT_SECONDS} s of SIGTERM: killed (see its log).")
    for component in airflow_stack.status():
        state = f"running (pid {component.pid})" if component.running else "stopped"
        print(f"{component.name:<14} {state:<22} log: {component.log}")
    return 0


def cmd_airflow_cli(args: argparse.Namespace) -> int:
    import os
    import subprocess

    from segments.tools import airflow_stack, local

    local.configure()
    local.ensure_airflow_metadata()
    refusal = airflow_stack.paused_backfill_refusal(args.airflow_args)
    if refusal:
        print(f"segments airflow-cli: {refusal}", file=sys.stderr)
        return 1
    environment = {**os.environ, **airflow_stack.stack_environment(args.port)}
    return subprocess.run([sys.executable, "-m", "airflow", *args.airflow_args], env=environment).returncode


def build_parser() -> argparse.ArgumentParser:
    from segments.settings import Settings
    from segments.tools.generate import ARCHETYPE_MIXES

    settings = Settings()
    parser = argparse.ArgumentParser(prog="segments", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    db_parser = commands.add_parser("db", help="the local embedded PostgreSQL server")
    db_parser.add_argument("action", choices=["start", "stop", "status", "url"])
    db_parser.set_defaults(handler=cmd_db)

    load_parser = commands.add_parser("load", help="load an Online Retail file (.csv, .csv.gz, .xlsx) into the source")
    load_parser.add_argument("path")
    load_parser.add_argument("--append", action="store_true",
                             help="add the file's lines to the source (default: the file replaces the source)")
    load_parser.add_argument("--date-format", help="the strptime format of the file's dates, e.g. \"%%d/%%m/%%Y %%H:%%M\" "
                             "(default: detected from every date in the file)")
    load_parser.set_defaults(handler=cmd_load)

    generate_parser = commands.add_parser("generate", help="fill the source with synthetic invoice lines")
    generate_parser.add_argument("--lines", type=int, default=500_000)
    generate_parser.add_argument("--customers", type=int, default=5_000)
    generate_parser.add_argument("--start", type=_date, default=dt.date(2023, 12, 1), help="first day (YYYY-MM-DD)")
    generate_parser.add_argument("--end", type=_date, default=dt.date(2025, 12, 1), help="day after the last (YYYY-MM-DD)")
    generate_parser.add_argument("--seed", type=int, default=42)
    generate_parser.add_argument("--append", action="store_true", help="add to the source instead of replacing it")
    generate_parser.add_argument("--mix", choices=list(ARCHETYPE_MIXES),
                                 help="draw customers from planted archetypes in this mix, and write the truth "
                                      "(customer to archetype) to retail.customer_archetypes")
    generate_parser.set_defaults(handler=cmd_generate)

    run_parser = commands.add_parser("run", help="run the DAG for one snapshot date through Airflow")
    run_parser.add_argument("--as-of", type=_date, help="snapshot date (default: the day after the newest source line)")
    run_parser.add_argument("--k", default=settings.k, help="number of segments (2-8) or auto")
    run_parser.add_argument("--full-refresh", action="store_true", help="re-extract all history before the date")
    run_parser.add_argument("--force", action="store_true",
                            help="publish even if this rerun shrinks the date's published snapshot a lot")
    run_parser.add_argument("--lookback-days", type=int, default=settings.lookback_days)
    run_parser.add_argument("--history-days", type=int, default=None)
    run_parser.set_defaults(handler=cmd_run)

    show_parser = commands.add_parser("show", help="print the published segment profiles")
    show_parser.add_argument("--as-of", type=_date, help="snapshot date (default: the current snapshot)")
    show_parser.set_defaults(handler=cmd_show)
    report_parser = commands.add_parser("report", help="rebuild a snapshot's HTML report from the warehouse")
    report_parser.add_argument("--as-of", type=_date, help="snapshot date (default: the current snapshot)")
    report_parser.set_defaults(handler=cmd_report)

    status_parser = commands.add_parser("status", help="the last runs, their state, and the current snapshot")
    status_parser.add_argument("--limit", type=int, default=10)
    status_parser.set_defaults(handler=cmd_status)

    rollback_parser = commands.add_parser("rollback", help="withdraw a bad published snapshot")
    rollback_parser.add_argument("--as-of", type=_date, required=True, help="the snapshot to withdraw")
    rollback_parser.set_defaults(handler=cmd_rollback)

    export_parser = commands.add_parser(
        "export", help="write a snapshot's customers (an audience) to CSV or Parquet, as the read-only role")
    export_parser.add_argument("--as-of", type=_date, required=True, help="the published snapshot to export")
    export_parser.add_argument("--segment", action="append", metavar="NAME",
                               help="only this segment (repeat for several; default: every segment)")
    export_parser.add_argument("--format", choices=["csv", "parquet"], default="csv")
    export_parser.add_argument("--output", help="file to write (default: audience-<date>[-<segment>].<format>)")
    export_parser.set_defaults(handler=cmd_export)

    capture_parser = commands.add_parser(
        "source-capture", help="log the days each write to the source table touches, so nightly extracts read only "
                               "those instead of fingerprinting all history (run as the table's owner)")
    capture_parser.add_argument("action", choices=["install", "remove", "status", "prune"])
    capture_parser.add_argument("--keep-days", type=int, default=30,
                                help="prune: keep the log entries of the last N days (default 30)")
    capture_parser.set_defaults(handler=cmd_source_capture)

    notebook_parser = commands.add_parser(
        "notebook", help="open the analysts' notebook in JupyterLab, reading the warehouse as the read-only role")
    notebook_parser.set_defaults(handler=cmd_notebook)

    cluster_parser = commands.add_parser(
        "cluster", help="a local Citus cluster: build Citus (make citus), start a coordinator and workers, stop")
    cluster_parser.add_argument("action", choices=["build", "start", "stop", "status", "distribute"],
                                help="distribute: give the tables of the configured warehouse (a Citus coordinator) "
                                     "their place in the cluster, moving existing rows into the shards")
    cluster_parser.add_argument("--workers", type=int, default=2, help="workers to start (default 2)")
    cluster_parser.set_defaults(handler=cmd_cluster)

    evaluate_parser = commands.add_parser(
        "evaluate", help="score model configurations on planted archetypes and the real data; one table, also JSON")
    evaluate_parser.add_argument("--real", type=Path, help="the Online Retail file (the real-data columns need it)")
    evaluate_parser.add_argument("--candidates", choices=["all", "default"], default="all")
    evaluate_parser.add_argument("--mixes", type=_names(ARCHETYPE_MIXES),
                                 help=f"comma-separated mixes of archetypes (default: all of {','.join(ARCHETYPE_MIXES)})")
    evaluate_parser.add_argument("--seeds", type=_integers, help="comma-separated planted seeds (default: 1,2,3)")
    evaluate_parser.add_argument("--lines", type=int, help="lines per planted shop (default: 400,000)")
    evaluate_parser.add_argument("--customers", type=int, help="customers per planted shop (default: 4,000)")
    evaluate_parser.add_argument("--output", type=Path, help="the JSON file (default: .local/evaluate/evaluation.json)")
    evaluate_parser.set_defaults(handler=cmd_evaluate)

    airflow_parser = commands.add_parser("airflow", help="a local Airflow with its UI (api-server, scheduler, ...)")
    airflow_parser.add_argument("action", choices=["start", "stop", "status"])
    airflow_parser.add_argument("--port", type=int, default=8080)
    airflow_parser.set_defaults(handler=cmd_airflow)

    airflow_cli_parser = commands.add_parser(
        "airflow-cli", help="any `airflow` command against the local Airflow, e.g. `backfill create ...`")
    airflow_cli_parser.add_argument("--port", type=int, default=8080, help="port of the local api-server")
    airflow_cli_parser.add_argument("airflow_args", nargs=argparse.REMAINDER)
    airflow_cli_parser.set_defaults(handler=cmd_airflow_cli)
    return parser


def main(argv: list[str] | None = None) -> int:
    import psycopg

    from segments.errors import first_line

    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except KeyboardInterrupt:
        print("\nInterrupted; nothing was half-written (loads and publishes are transactional).", file=sys.stderr)
        return 130
    except (RuntimeError, ValueError, LookupError, ConnectionError, FileNotFoundError) as error:
        print(f"\nsegments {args.command}: {error}", file=sys.stderr)
        return 1
    except psycopg.OperationalError as error:
        # The server went away mid-command (a restart, an administrator ending sessions, the network).
        print(f"\nsegments {args.command}: the database connection broke ({first_line(error)}). "
              "The transaction it was writing was rolled back: nothing was half-written. Run the command "
              "again once the server answers (`segments db status` for the local one).", file=sys.stderr)
        return 1
    except psycopg.Error as error:
        print(f"\nsegments {args.command}: the database refused a statement: {first_line(error)}",
              file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
