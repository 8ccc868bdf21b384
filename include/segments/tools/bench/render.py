"""The report: bench.md (every measure per size, then the targets) and bench.png (time and memory)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

from segments.pipeline.stages import SEQUENCE
from segments.tools.bench.memory import SAMPLE_SECONDS
from segments.tools.bench.workers import NOTEBOOK_STEPS

NOTEBOOK_STEP_NAMES = ("read_sql select *", "clean", "RFM groupby", "log1p + scale + KMeans")


def fmt_s(value) -> str:
    return "-" if value is None else f"{value:,.2f}"


def fmt_int(value) -> str:
    return "-" if value is None else f"{value:,.0f}"


def fmt_num(value, digits=2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def fmt_pct(value) -> str:
    return "-" if value is None else f"{value:.1%}"


def fmt_ratio(value, suffix="") -> str:
    return "-" if value is None else f"{value:.3f}{suffix}"


def lookup(part: dict, *keys):
    """The value at `keys` in nested dictionaries; None where any of them is missing."""
    value = part
    for key in keys:
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


def _cell(part: dict, fmt, *keys) -> str:
    if "error" in part:
        return "failed"
    if "skipped" in part:
        return "skipped"
    return fmt(lookup(part, *keys))


def _backends(part: dict) -> str:
    if "error" in part and part.get("pg_backends_peak_uss_mib") is None:
        return "failed"
    uss, rss = part.get("pg_backends_peak_uss_mib"), part.get("pg_backends_peak_rss_mib")
    return "not sampled" if uss is None else f"{uss:,.0f} / {rss:,.0f}"


def _storage(part: dict) -> str:
    """What the local servers and the worker process read from the storage device (not from memory)."""
    if "error" in part and part.get("worker_storage_read_mib") is None:
        return "failed"
    servers, worker = part.get("storage_read_mib"), part.get("worker_storage_read_mib")
    return f"{'unknown' if servers is None else f'{servers:,.1f}'} / {worker:,.1f}"


def _window(part: dict) -> str:
    if "error" in part:
        return "failed"
    days = (dt.date.fromisoformat(part["window_end"]) - dt.date.fromisoformat(part["window_start"])).days
    return f"{part['lines_extracted']:,} ({days} days)"


def _airflow(record: dict, value) -> str:
    airflow = record["airflow"]
    if "skipped" in airflow:
        return "skipped (--no-airflow)"
    if "error" in airflow:
        return "failed"
    return fmt_s(value(airflow))


def _around_snapshots(record: dict, value) -> str:
    """A measure of the nightly date's reruns around the earlier snapshots (--earlier-snapshots)."""
    if "rerun" not in record:
        return "skipped (needs --earlier-snapshots)"
    if any("error" in record.get(part, {}) for part in ("rerun", "rerun_after_snapshots")):
        return "failed"
    return value(record)


def measure_rows() -> list[tuple[str, Callable[[dict], str]]]:
    """Every measure of the report, in order: row label -> function(record of one size) -> cell text."""
    rows: list[tuple[str, Callable[[dict], str]]] = [
        ("**data**", lambda r: ""),
        ("history lines in the source", lambda r: fmt_int(r["data"]["history_lines"])),
        ("history days (customer pool)", lambda r: f"{r['data']['history_days']} ({r['data']['customer_pool']:,})"),
        ("generate + COPY into source (lines/s)", lambda r: fmt_int(r["data"]["load_lines_per_second"])),
        ("incremental day: lines added", lambda r: fmt_int(r["data"]["incremental_day_lines"])),
        ("**first full run** (s)", lambda r: ""),
    ]
    for stage in SEQUENCE:
        rows.append((f"full: {stage}", lambda r, s=stage: _cell(r["full"], fmt_s, "stages", s)))
    rows += [
        ("full: total (stages)", lambda r: fmt_s(r["derived"]["full_total_s"])),
        ("full: lines extracted", lambda r: _cell(r["full"], fmt_int, "lines_extracted")),
        ("full: extraction throughput (lines/s)", lambda r: fmt_int(r["derived"]["extract_lines_per_s"])),
        ("full: … of which the COPY itself (lines/s)", lambda r: fmt_int(r["derived"]["extract_copy_lines_per_s"])),
        ("full: customers segmented", lambda r: _cell(r["full"], fmt_int, "customers_segmented")),
        ("full: worker process peak RSS (MiB)", lambda r: _cell(r["full"], fmt_int, "peak_rss_mib")),
        ("full: PostgreSQL backends peak USS / RSS (MiB)", lambda r: _backends(r["full"])),
        ("full: other processes' share of the machine's CPU meanwhile",
         lambda r: _cell(r["full"], fmt_pct, "other_processes_cpu_share")),
        ("full: read from disk, not memory: local servers / the process (MiB)",
         lambda r: _storage(r["full"])),
        ("**nightly incremental run** (s)", lambda r: ""),
        ("nightly: lines re-read (window)", lambda r: _window(r["nightly"])),
        ("nightly: earlier days checked for changes by", lambda r: _cell(r["nightly"], str, "changed_days_found_by")),
    ]
    for stage in SEQUENCE:
        rows.append((f"nightly: {stage}", lambda r, s=stage: _cell(r["nightly"], fmt_s, "stages", s)))
    rows += [
        ("nightly: total (stages)", lambda r: fmt_s(r["derived"]["nightly_total_s"])),
        ("nightly: until published (stages before the report)",
         lambda r: fmt_s(r["derived"]["nightly_until_published_s"])),
        ("nightly: customers scored in", lambda r: _cell(r["nightly"], str, "scored_in")),
        ("nightly: K-Means started from", lambda r: _cell(r["nightly"], str, "kmeans_initialised_from")),
        ("nightly: worker process peak RSS (MiB)", lambda r: _cell(r["nightly"], fmt_int, "peak_rss_mib")),
        ("nightly: PostgreSQL backends peak USS / RSS (MiB)", lambda r: _backends(r["nightly"])),
        ("nightly: other processes' share of the machine's CPU meanwhile",
         lambda r: _cell(r["nightly"], fmt_pct, "other_processes_cpu_share")),
        ("nightly: read from disk, not memory: local servers / the process (MiB)",
         lambda r: _storage(r["nightly"])),
        ("**the nightly date again, before and after more published snapshots** (s)", lambda r: ""),
        ("earlier published snapshots added (feature rows)",
         lambda r: _around_snapshots(r, lambda s: f"{s['earlier_snapshots']['snapshots']:,} "
                                                  f"({s['earlier_snapshots']['rows_added']['intermediate.int_customer_features']:,})")),
        ("rerun: until published", lambda r: _around_snapshots(r, lambda s: fmt_s(s["derived"]["rerun_until_published_s"]))),
        ("rerun after the earlier snapshots: until published",
         lambda r: _around_snapshots(r, lambda s: fmt_s(s["derived"]["rerun_after_snapshots_until_published_s"]))),
        ("**Airflow** (same day, `dag.test()`)", lambda r: ""),
        ("Airflow: process wall time (s)",
         lambda r: _airflow(r, lambda a: a["process_seconds"] - a["metadata_check_seconds"])),
        ("Airflow: stage times it recorded (s)", lambda r: _airflow(r, lambda a: a.get("stage_seconds_sum"))),
        ("Airflow overhead = wall − stages (s)", lambda r: _airflow(r, lambda a: a.get("overhead_seconds"))),
        ("**notebook approach** (s)", lambda r: ""),
    ]
    for step, text in zip(NOTEBOOK_STEPS, NOTEBOOK_STEP_NAMES):
        rows.append((f"notebook: {text}", lambda r, s=step: _cell(r["notebook"], fmt_s, "steps", s)))
    rows += [
        ("notebook: total", lambda r: fmt_s(r["derived"]["notebook_total_s"])),
        ("notebook: process peak RSS (MiB)", lambda r: _cell(r["notebook"], fmt_int, "peak_rss_mib")
         if "error" not in r["notebook"] else f"failed (peak {r['notebook'].get('peak_rss_mib', 0):,.0f})"),
        ("notebook: PostgreSQL backend peak USS / RSS (MiB)", lambda r: _backends(r["notebook"])),
        ("notebook: other processes' share of the machine's CPU meanwhile",
         lambda r: _cell(r["notebook"], fmt_pct, "other_processes_cpu_share")),
        ("notebook: read from disk, not memory: local servers / the process (MiB)",
         lambda r: _storage(r["notebook"])),
        ("notebook: customers segmented", lambda r: _cell(r["notebook"], fmt_int, "customers_segmented")),
        ("**comparison**", lambda r: ""),
        ("nightly / notebook time", lambda r: fmt_ratio(r["derived"]["nightly_over_notebook_time"])),
        ("nightly until published / notebook time",
         lambda r: fmt_ratio(r["derived"]["nightly_until_published_over_notebook_time"])),
        ("nightly / notebook peak memory (processes)",
         lambda r: fmt_ratio(r["derived"]["nightly_over_notebook_memory"])),
        ("full run / notebook time", lambda r: fmt_ratio(r["derived"]["full_over_notebook_time"])),
        ("customers segmented by both", lambda r: fmt_int(r.get("agreement", {}).get("customers_both"))),
        ("adjusted Rand index", lambda r: fmt_num(r.get("agreement", {}).get("adjusted_rand_index"), 3)),
        ("agreement after matching labels", lambda r: fmt_pct(r.get("agreement", {}).get("agreement_share"))),
    ]
    return rows


def render_markdown(report: dict) -> str:
    """bench.md without the backfill case: the setting, every measure per size, the targets."""
    records = report["sizes"]
    env = report["environment"]
    lines = [
        "# Benchmark: nightly pipeline vs the notebook",
        "",
        f"Run {env['started_at']} on {env['cpus']} CPUs, {env['memory_gib']:.0f} GiB RAM ({env['platform']}), "
        f"commit {env['commit'] or 'unknown'}. Command: `{env['command']}`.",
        f"Synthetic data: seed {report['settings']['seed']}, "
        f"{report['settings']['customers']:,} customers at every size, "
        f"~{report['settings']['lines_per_day']:,} lines a day, history ending {report['settings']['end']} "
        "(the nightly run adds that day). Timings are wall-clock seconds on a shared machine: expect noise.",
        "Before the nightly run the warehouse is "
        + ("VACUUMed and ANALYZEd, as autovacuum would have done in the day since the previous run."
           if report["settings"].get("overnight_vacuum", True) else "not VACUUMed (--no-overnight-vacuum)."),
        "Peak memory: worker processes' peak RSS (`wait4`); PostgreSQL backends sampled every "
        f"{SAMPLE_SECONDS} s (USS = private memory; RSS also counts the shared buffers they touched).",
        "",
        "| measure | " + " | ".join(r["label"] for r in records) + " |",
        "| --- | " + " | ".join("---:" for _ in records) + " |",
    ]
    for name, cell in measure_rows():
        values = []
        for record in records:
            try:
                values.append(cell(record))
            except (KeyError, TypeError, ValueError):
                values.append("-")
        lines.append(f"| {name} | " + " | ".join(values) + " |")
    lines += _cluster_lines(records)
    lines += ["", "## Targets", "", "| target | size | measured | threshold | result | note |",
              "| --- | --- | ---: | ---: | --- | --- |"]
    for t in report["targets"]:
        lines.append(f"| {t['target']} | {t['size']} | {t['measured']} | {t['threshold']} | **{t['status']}** "
                     f"| {t['note']} |")
    for title, key in (("Errors", "errors"), ("Notes", "notes"), ("Warnings", "warnings")):
        items = [f"- {r['label']}: {item}" for r in records for item in r.get(key, [])]
        if items:
            lines += ["", f"## {title}", "", *items]
    return "\n".join(lines) + "\n"


def _cluster_lines(records: list[dict]) -> list[str]:
    """The Citus case (--cluster-workers): each stage on the cluster next to the single PostgreSQL."""
    measured = [r for r in records if "cluster_full" in r]
    if not measured:
        return []
    lines = ["", "## The warehouse on a Citus cluster vs a single PostgreSQL (same source, same run)", "",
             "| size | run | stage | single PostgreSQL (s) | Citus cluster (s) | cluster / single |",
             "| --- | --- | --- | ---: | ---: | ---: |"]
    for record in measured:
        for run, single, on_cluster in (("full", record["full"], record["cluster_full"]),
                                        ("nightly", record["nightly"], record["cluster_nightly"])):
            for stage in SEQUENCE:
                a, b = lookup(single, "stages", stage), lookup(on_cluster, "stages", stage)
                lines.append(f"| {record['label']} | {run} | {stage} | {fmt_s(a)} | {fmt_s(b)} | "
                             f"{fmt_ratio(b / a if a and b else None)} |")
        derived = record["derived"]
        lines.append(f"| {record['label']} | full | **total** | {fmt_s(derived['full_total_s'])} | "
                     f"{fmt_s(derived['cluster_full_total_s'])} | **{fmt_ratio(derived['cluster_full_over_single'])}** |")
        lines.append(f"| {record['label']} | nightly | **until published** | "
                     f"{fmt_s(derived['nightly_until_published_s'])} | "
                     f"{fmt_s(derived['cluster_nightly_until_published_s'])} | "
                     f"**{fmt_ratio(derived['cluster_nightly_over_single'])}** |")
    return lines


def render_chart(report: dict, path: Path) -> None:
    """bench.png: stacked stage times of each run and size, and the peak memory of each."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    records = report["sizes"]
    fig, (times, memory) = plt.subplots(1, 2, figsize=(14, 5.5))
    colours = plt.get_cmap("tab10").colors
    notebook_colours = plt.get_cmap("Dark2").colors[3:] + plt.get_cmap("Dark2").colors[:3]
    x, ticks, labels = 0.0, [], []
    legend_done: set[str] = set()
    for record in records:
        for kind, steps in (("full", SEQUENCE), ("nightly", SEQUENCE), ("notebook", NOTEBOOK_STEPS)):
            part = record[kind]
            values = part.get("stages" if kind != "notebook" else "steps", {}) if "error" not in part else {}
            bottom = 0.0
            for index, step in enumerate(steps):
                value = values.get(step, 0.0)
                name = f"{'notebook: ' if kind == 'notebook' else ''}{step}"
                colour = (notebook_colours if kind == "notebook" else colours)[index % len(colours)]
                times.bar(x, value, bottom=bottom, color=colour, width=0.8, hatch="//" if kind == "notebook" else None,
                          edgecolor="white", linewidth=0.5, label=None if name in legend_done else name)
                legend_done.add(name)
                bottom += value
            if not values:
                times.text(x, 0, "failed", ha="center", va="bottom", rotation=90, fontsize=8)
            else:
                times.text(x, bottom, f"{bottom:,.1f}", ha="center", va="bottom", fontsize=8)
            ticks.append(x)
            labels.append(f"{record['label']}\n{kind}")
            x += 1
        x += 0.7
    times.set_xticks(ticks, labels, fontsize=8)
    times.set_ylabel("seconds (wall clock)")
    times.set_title("Time per stage: first full run, nightly incremental, notebook")
    times.legend(fontsize=7, ncol=2)

    groups = [("full run", "full"), ("nightly", "nightly"), ("notebook", "notebook")]
    width = 0.38
    for index, record in enumerate(records):
        for offset, (title, key) in enumerate(groups):
            part = record[key]
            position = index * (len(groups) + 1) + offset
            rss = part.get("peak_rss_mib") or 0
            backends = part.get("pg_backends_peak_uss_mib") or 0
            first = index == offset == 0
            memory.bar(position - width / 2, rss, width, color=colours[0],
                       label="worker process peak RSS" if first else None)
            memory.bar(position + width / 2, backends, width, color=colours[1],
                       label="PostgreSQL backends peak USS" if first else None)
            failed = " (failed)" if "error" in part else ""
            memory.text(position - width / 2, rss, f"{rss:,.0f}{failed}", ha="center", va="bottom", fontsize=7)
    memory.set_xticks([i * (len(groups) + 1) + j for i in range(len(records)) for j in range(len(groups))],
                      [f"{r['label']}\n{title}" for r in records for title, _ in groups], fontsize=8)
    memory.set_ylabel("MiB")
    memory.set_title("Peak memory")
    memory.legend(fontsize=8)
    fig.suptitle(f"segments benchmark ({report['environment']['started_at']}, {report['environment']['cpus']} CPUs)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
