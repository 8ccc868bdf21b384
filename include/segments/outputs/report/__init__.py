"""What people read: the published segment profiles as a table, and a report per snapshot.

`profiles_table` prints the profiles in a terminal. `build_report` rebuilds, from the warehouse
alone, a self-contained HTML page (charts embedded as base64 PNG, inline CSS, no external
resources) plus the charts as PNG files, in `reports_dir/<as_of_date>/`. The charts are drawn in
`charts`; the page is a Jinja2 template in `templates/`, on the base template and stylesheet that
the Customer segments page of the Airflow plugin shares (`render_page`). matplotlib and
scikit-learn are imported only when a report is built.
"""

from __future__ import annotations

import datetime as dt
import html
import re
from pathlib import Path
from typing import Any

import jinja2
import psycopg
from markupsafe import Markup
from tabulate import tabulate

from segments import queries
from segments.files import write_atomically
from segments.outputs.report import charts
from segments.outputs.report.charts import Chart, segment_colour
from segments.pipeline import warehouse
from segments.pipeline.snapshot import Snapshot
from segments.pipeline.stages import recorded_stage
from segments.settings import ALL_FEATURES, Settings

PROFILE_HEADERS = {
    "segment_id": "id",
    "segment_name": "segment",
    "customers": "customers",
    "customer_share": "% customers",
    "revenue": "revenue",
    "revenue_share": "% revenue",
    "median_recency_days": "median recency (days)",
    "median_frequency_invoices": "median invoices",
    "median_monetary_revenue": "median revenue",
    "mean_avg_order_revenue": "mean order value",
    "mean_items_per_order": "mean items/order",
}


def profiles_table(conn: psycopg.Connection, as_of_date: dt.date | None) -> str:
    """The segment profiles of a snapshot (default: the current one), as an aligned table."""
    try:
        if as_of_date is None:
            current = warehouse.current_snapshot(conn)
            if current is None:
                return "No snapshot published yet: run `segments run` first."
            as_of_date = current["as_of_date"]
        rows = queries.fetch_all(conn, "segments/segment_profiles__select.sql", {"as_of_date": as_of_date})
    except psycopg.errors.UndefinedTable:
        return "No snapshot published yet (the warehouse has no published tables): run `segments run` first."
    if not rows:
        return f"No snapshot published for {as_of_date}."
    table = [
        [
            row["segment_id"], row["segment_name"], f"{row['customers']:,}", f"{row['customer_share']:.1%}",
            f"{row['revenue']:,.0f}", f"{row['revenue_share']:.1%}", f"{row['median_recency_days']:,.0f}",
            f"{row['median_frequency_invoices']:,.0f}", f"{row['median_monetary_revenue']:,.0f}",
            f"{row['mean_avg_order_revenue']:,.0f}", f"{row['mean_items_per_order']:,.0f}",
        ]
        for row in rows
    ]
    headers = list(PROFILE_HEADERS.values())
    definitions = queries.fetch_all(conn, "segments/segment_definitions__select.sql", {"as_of_date": as_of_date})
    meaning = tabulate([[row["value_rank"], row["segment_name"], row["recommended_action"]] for row in definitions],
                       headers=["value rank", "segment", "recommended action"], maxcolwidths=[None, None, 70])
    return (f"Segment profiles as of {as_of_date}\n"
            + tabulate(table, headers=headers, stralign="right", disable_numparse=True)
            + f"\n\nWhat to do with each segment\n{meaning}")


# --------------------------------------------------------------------------------------------
# The HTML report
# --------------------------------------------------------------------------------------------

REPORT_FILE = "report.html"
_RUN_ID_META = re.compile(r'<meta name="segments-run-id" content="([^"]*)"')
_BODY = re.compile(r"<body[^>]*>(.*)</body>", re.DOTALL | re.IGNORECASE)

_TEMPLATES_DIR = Path(__file__).with_name("templates")
# Every page (the report and the plugin's) extends templates/base.html.j2, which inlines the one
# stylesheet: the report stays a single self-contained file.
_pages = jinja2.Environment(
    loader=jinja2.FileSystemLoader(_TEMPLATES_DIR),
    autoescape=True,  # values are text (customer ids, segment names, errors), never markup
    undefined=jinja2.StrictUndefined,  # a misspelt name fails the build instead of vanishing from the page
    trim_blocks=True,
    lstrip_blocks=True,
)
_pages.globals["stylesheet"] = Markup((_TEMPLATES_DIR / "segments.css").read_text(encoding="utf-8"))


def render_page(template: str, **context: Any) -> str:
    """A page from `templates/`: on the shared base template and stylesheet, values HTML-escaped."""
    return _pages.get_template(template).render(**context)


def report_title(as_of_date: dt.date) -> str:
    """The title of a snapshot's report, also the title of the page that shows it in Airflow."""
    return f"Customer segments as of {as_of_date.isoformat()}"


def published_snapshots(conn: psycopg.Connection) -> list[dict[str, Any]]:
    """Every published snapshot (as_of_date, run_id, k, customers_segmented), newest first."""
    return queries.fetch_all(conn, "reads/report_snapshots.sql")


def list_reports(reports_dir: Path) -> list[dt.date]:
    """Snapshot dates that have a report.html under `reports_dir`, newest first."""
    reports_dir = Path(reports_dir)
    if not reports_dir.is_dir():
        return []
    dates = []
    for folder in reports_dir.iterdir():
        try:
            day = dt.date.fromisoformat(folder.name)
        except ValueError:
            continue
        if (folder / REPORT_FILE).is_file():
            dates.append(day)
    return sorted(dates, reverse=True)


def report_path(reports_dir: Path, as_of_date: dt.date) -> Path:
    """Where the report of a snapshot lives."""
    return Path(reports_dir) / as_of_date.isoformat() / REPORT_FILE


def report_run_id(html_path: Path) -> str | None:
    """The run a report file was built from (None if the file is missing or has no marker)."""
    try:
        with open(html_path, encoding="utf-8") as handle:
            head = handle.read(4096)
    except OSError:
        return None
    found = _RUN_ID_META.search(head)
    return html.unescape(found.group(1)) if found else None


def report_body(html_path: Path) -> Markup:
    """What a report file shows (its <body>), for a page that shows it under its own header.

    The report is a page this package wrote on the same base template and stylesheet, so its body
    is shown as it is. Raises FileNotFoundError when the report is not built.
    """
    page = Path(html_path).read_text(encoding="utf-8")
    found = _BODY.search(page)
    return Markup(found.group(1) if found else page)


def report_stage(wh: psycopg.Connection, snapshot: Snapshot, settings: Settings) -> dict:
    """The DAG's last stage: write the snapshot's HTML report and charts (from the published tables only)."""
    with recorded_stage(wh, snapshot, "report") as detail:
        path = build_report(wh, snapshot.as_of_date, settings.reports_dir)
        warehouse.record_report(wh, snapshot.run_id, snapshot.as_of_date, path)
        detail["report_path"] = str(path)
    return detail


def build_report(conn: psycopg.Connection, as_of_date: dt.date, reports_dir: Path) -> Path:
    """Rebuild the report of a published snapshot from the warehouse; return report.html's path.

    Writes `reports_dir/<as_of_date>/report.html` and one PNG per chart; the HTML is written
    last, so a reader never sees a half-built report. Only reads the warehouse.
    """
    from segments.pipeline import registry  # imports scikit-learn: only when a report is built

    runs = queries.fetch_all(conn, "reads/report_run.sql", {"as_of_date": as_of_date})
    if not runs:
        published = [row["as_of_date"].isoformat() for row in published_snapshots(conn)[:5]]
        choices = f"published snapshots include {', '.join(published)}" if published else "nothing is published yet"
        raise LookupError(
            f"Snapshot {as_of_date} is not published in the warehouse, so it has no report ({choices}). "
            f"Publish it first (`segments run --as-of {as_of_date}`) or pick a published date."
        )
    run = runs[0]
    segments = queries.fetch_all(conn, "segments/segment_profiles__select.sql", {"as_of_date": as_of_date})
    definitions = queries.fetch_all(conn, "segments/segment_definitions__select.sql", {"as_of_date": as_of_date})
    zscores = queries.fetch_frame(conn, "reads/report_profile_zscores.sql", {"as_of_date": as_of_date})
    customers = queries.fetch_frame(conn, "reads/report_customers.sql", {"as_of_date": as_of_date},
                                    identifiers={"features": ALL_FEATURES})
    migrations = queries.fetch_frame(conn, "reads/report_migrations.sql", {"as_of_date": as_of_date})
    model = registry.load(conn, run["run_id"])

    drawn = [
        charts.segment_sizes(segments),
        charts.profile_heatmap(segments, zscores, tuple(run["model_features"])),
        charts.projection(customers, model, segments),
    ]
    if run["k_selection"]:
        drawn.append(charts.k_selection(run["k_selection"], run["k"]))
    if not migrations.empty:
        drawn.append(charts.migrations(migrations, segments))

    folder = Path(reports_dir) / as_of_date.isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    for chart in drawn:
        write_atomically(folder / chart.file, chart.png)
    produced = {chart.file for chart in drawn}
    for stale in charts.CHART_FILES:
        if stale not in produced:
            (folder / stale).unlink(missing_ok=True)
    page = _report_page(run, segments, definitions, drawn)
    path = folder / REPORT_FILE
    write_atomically(path, page.encode("utf-8"))
    return path


def _report_page(run: dict, segments: list[dict], definitions: list[dict], drawn: list[Chart]) -> str:
    """The report's HTML (templates/report.html.j2), with the figures formatted for reading."""
    as_of = run["as_of_date"]
    silhouette = f"{run['silhouette']:.3f}" if run["silhouette"] is not None else "n/a"
    davies = f"Davies–Bouldin {run['davies_bouldin']:.2f}" if run["davies_bouldin"] is not None else ""
    changed = run["customers_changed_segment"]
    kpis = [
        ("Segments (k)", f"{run['k']}", "chosen automatically" if run["k_selection"] else "fixed k"),
        ("Silhouette", silhouette, davies),
        ("Stability", f"{run['bootstrap_stability']:.2f}" if run["bootstrap_stability"] is not None else "n/a",
         "bootstrap ARI (1 = same segments every time)"),
        ("Customers segmented", f"{run['customers_segmented']:,}", f"{run['customers_excluded']:,} excluded"),
        ("Changed segment", f"{changed:,}" if changed is not None else "n/a",
         "since the last snapshot" if changed is not None else "first snapshot"),
        ("Lines used", f"{run['lines_used']:,}", f"of {run['lines_in_snapshot']:,} lines"),
        ("Lines excluded", f"{run['lines_excluded']:,}", "duplicates, guests, fees"),
        ("Lines quarantined", f"{run['lines_quarantined']:,}", "invalid values"),
    ]
    rows = [
        {
            "colour": segment_colour(row["segment_id"]),
            "name": row["segment_name"],
            # In the order of the table's columns after the name.
            "figures": [
                f"{row['customers']:,}", f"{float(row['customer_share']):.1%}",
                f"{float(row['revenue']):,.0f}", f"{float(row['revenue_share'] or 0):.1%}",
                f"{float(row['median_recency_days']):,.0f}", f"{float(row['median_frequency_invoices']):,.0f}",
                f"{float(row['median_monetary_revenue']):,.0f}",
            ],
        }
        for row in segments
    ]
    return render_page(
        "report.html.j2",
        title=report_title(as_of),
        run_id=run["run_id"],
        as_of=as_of.isoformat(),
        published_at=run["published_at"].strftime("%Y-%m-%d %H:%M %Z").strip() if run["published_at"] else "unknown",
        features=", ".join(run["model_features"]),
        kpis=kpis,
        segments=rows,
        definitions=[{**definition, "colour": segment_colour(definition["segment_id"])} for definition in definitions],
        currency=run["currency"],
        charts={chart.section_id: chart for chart in drawn},
    )
