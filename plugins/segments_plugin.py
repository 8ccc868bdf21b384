"""A "Customer segments" page inside Airflow: the report of any published snapshot.

The api-server mounts the FastAPI app below at /segments; the Airflow UI shows it as a
top-level navigation entry, embedded at /plugin/customer-segments. The page lists the published
snapshots (newest first) and shows one snapshot's report (default: the latest one;
`?as_of=YYYY-MM-DD` picks another). Reports are read from the reports folder
(SEGMENTS_REPORTS_DIR) and rebuilt from the warehouse (Airflow connection `segment_warehouse`,
in a read-only session) when missing or built from another run of that date.

Readers need to be logged in to Airflow with read access to the `customer_segmentation` DAG,
exactly as for the DAG's own pages. Every process that loads plugins imports this module, so
it stays light: the project, matplotlib and Airflow's API security are imported per request.
"""

from __future__ import annotations

import datetime as dt
import html
import logging
import re
import threading
from typing import Any

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from airflow.plugins_manager import AirflowPlugin

from segments.settings import DAG_ID

log = logging.getLogger(__name__)

URL_PREFIX = "/segments"
PAGE_NAME = "Customer segments"
# Snapshots linked directly in the page's header; the picker lists all of them.
RECENT_LINKS = 10
_FILE_NAME = re.compile(r"^(report\.html|[a-z_]+\.png)$")
_build_lock = threading.Lock()
ICON_SVG = """<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24" fill="none" stroke="currentColor" \
stroke-width="2" stroke-linecap="round" stroke-linejoin="round"><circle cx="9" cy="7" r="3"/>\
<path d="M3 20v-1a5 5 0 0 1 5-5h2"/><path d="M14 20v-6"/><path d="M18 20v-10"/><path d="M22 20v-3"/></svg>"""


async def require_reader(request: Request) -> None:
    """Only people who may read the DAG may read its segments: Airflow's own user and DAG checks."""
    from fastapi.concurrency import run_in_threadpool

    from airflow.api_fastapi.core_api import security

    user = await security.get_user(
        request=request, _oauth_token=None, bearer_credentials=await security.bearer_scheme(request)
    )
    await run_in_threadpool(security.requires_access_dag("GET", param_dag_id=DAG_ID), request, user)


app = FastAPI(title=PAGE_NAME, docs_url=None, redoc_url=None, openapi_url=None)


@app.exception_handler(HTTPException)
async def _error_page(request: Request, error: HTTPException) -> Response:
    """Errors as pages; a reader who is not logged in is sent to Airflow's login first."""
    if error.status_code == 401 and "text/html" in request.headers.get("accept", ""):
        from airflow.api_fastapi.app import get_auth_manager

        return RedirectResponse(get_auth_manager().get_url_login(next_url=str(request.url)), status_code=303)
    if isinstance(error.detail, dict):
        return _page(error.detail["title"], error.detail["body"], status_code=error.status_code)
    if error.status_code == 401:
        return _page("Log in to Airflow first", '<p>This page shows what Airflow shows: <a href="/">log in</a>, '
                     "then come back.</p>", status_code=401)
    if error.status_code == 403:
        return _page("Not allowed", f"<p>Reading customer segments needs read access to the <code>{DAG_ID}</code> "
                     "DAG; ask an Airflow admin.</p>", status_code=403)
    return _page(f"{error.status_code}", f"<p>{html.escape(str(error.detail))}</p>", status_code=error.status_code)


@app.get("/icon.svg", include_in_schema=False)
def icon() -> Response:
    return Response(ICON_SVG, media_type="image/svg+xml", headers={"Cache-Control": "max-age=86400"})


@app.get("/", response_class=HTMLResponse, dependencies=[Depends(require_reader)])
def segments_page(as_of: str | None = None) -> Response:
    """The report of one published snapshot, under a snapshot picker."""
    from segments.settings import Settings

    requested = _parse_date(as_of)
    reports_dir = Settings().reports_dir
    snapshots, warehouse_error = _snapshots(reports_dir)
    if not snapshots:
        body = (
            "<p>No snapshot has been published yet. Run the <code>customer_segmentation</code> DAG "
            "(or <code>segments run</code>) and come back.</p>"
        )
        if warehouse_error:
            body = f'<p class="warn">{html.escape(warehouse_error)}</p>' + body
        return _page(PAGE_NAME, body, status_code=503 if warehouse_error else 200)
    by_date = {snapshot["as_of_date"]: snapshot for snapshot in snapshots}
    chosen = requested or snapshots[0]["as_of_date"]
    if chosen not in by_date:
        raise HTTPException(404, {
            "title": f"No snapshot for {chosen}",
            "body": f"<p>Snapshot <strong>{chosen}</strong> is not published. Pick a published one:</p>"
                    + _snapshot_links(snapshots, None, limit=None),
        })
    page = _report_html(by_date[chosen], reports_dir, warehouse_error is None)
    toolbar = _toolbar(snapshots, chosen, warehouse_error)
    page = page.replace("</head>", f"<style>{_TOOLBAR_CSS}</style>\n</head>", 1)
    page = page.replace("<body>", f"<body>\n{toolbar}", 1)
    return HTMLResponse(page, headers={"Cache-Control": "no-store"})


@app.get("/reports/{as_of}/{name}", dependencies=[Depends(require_reader)])
def report_file(as_of: str, name: str) -> Response:
    """A report's files as they are on disk: report.html and the PNG charts."""
    from segments.settings import Settings

    day = _parse_date(as_of)
    if not _FILE_NAME.match(name):
        raise HTTPException(404, {"title": "Not found", "body": f"<p>No report file named {html.escape(name)}.</p>"})
    path = Settings().reports_dir / day.isoformat() / name
    if not path.is_file():
        raise HTTPException(404, {
            "title": "Not found",
            "body": f'<p>No {html.escape(name)} for {day} yet: open <a href="{URL_PREFIX}/?as_of={day}">'
                    f"the snapshot's page</a> to build its report.</p>",
        })
    return FileResponse(path, headers={"Cache-Control": "no-cache"})


def _parse_date(value: str | None) -> dt.date | None:
    if value is None or value == "":
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise HTTPException(400, {
            "title": "Not a date",
            "body": f"<p><code>{html.escape(value)}</code> is not a date: use <code>?as_of=YYYY-MM-DD</code>, "
                    f'e.g. <a href="{URL_PREFIX}/?as_of=2011-12-10">?as_of=2011-12-10</a>, or '
                    f'<a href="{URL_PREFIX}/">the latest snapshot</a>.</p>',
        }) from None


def _warehouse():
    """A read-only session on the warehouse, through the Airflow connection."""
    from segments import db, queries
    from segments.settings import WAREHOUSE_CONN_ID

    conn = db.connect(WAREHOUSE_CONN_ID)
    queries.execute(conn, "reads/report_read_only_session.sql")
    return conn


def _snapshots(reports_dir) -> tuple[list[dict[str, Any]], str | None]:
    """Published snapshots, newest first; the reports on disk when the warehouse cannot be asked."""
    from psycopg.errors import UndefinedTable

    from segments.outputs import report

    try:
        with _warehouse() as conn:
            return report.published_snapshots(conn), None
    except UndefinedTable:
        return [], None  # a new warehouse: the first run has not created the tables yet
    except Exception as error:  # unreachable, refused, connection not defined: fall back to the files
        log.warning("Customer segments page: the warehouse cannot be read: %s", error)
        on_disk = [{"as_of_date": day, "run_id": None} for day in report.list_reports(reports_dir)]
        return on_disk, (
            "The warehouse cannot be reached right now; these are the reports already built on disk. "
            f"({error})"
        )


def _report_html(snapshot: dict, reports_dir, warehouse_up: bool) -> str:
    """The report file of a snapshot, (re)built first if missing or from another run."""
    from segments.outputs import report

    as_of = snapshot["as_of_date"]
    path = report.report_path(reports_dir, as_of)
    if warehouse_up and report.report_run_id(path) != snapshot["run_id"]:
        with _build_lock:
            if report.report_run_id(path) != snapshot["run_id"]:
                path = _build(as_of, reports_dir)
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise HTTPException(503, {
            "title": f"No report for {as_of} yet",
            "body": "<p>The report is not built and the warehouse cannot be reached to build it. "
                    "Try again shortly.</p>",
        }) from None


def _build(as_of: dt.date, reports_dir):
    import tempfile
    from pathlib import Path

    from segments.outputs import report

    with _warehouse() as conn:
        try:
            return report.build_report(conn, as_of, reports_dir)
        except LookupError as error:
            raise HTTPException(404, {"title": f"No snapshot for {as_of}", "body": f"<p>{html.escape(str(error))}</p>"})
        except PermissionError as error:
            # A read-only reports folder: build into a private folder, served this once.
            log.warning("Customer segments page: cannot write to %s (%s); building in a temporary folder.",
                        reports_dir, error)
            return report.build_report(conn, as_of, Path(tempfile.mkdtemp(prefix="segments-report-")))


def _snapshot_links(snapshots: list[dict], chosen: dt.date | None, limit: int | None) -> str:
    shown = snapshots if limit is None else snapshots[:limit]
    links = "".join(
        f'<a class="snap{" current" if snapshot["as_of_date"] == chosen else ""}" '
        f'href="{URL_PREFIX}/?as_of={snapshot["as_of_date"]}">{snapshot["as_of_date"]}</a>'
        for snapshot in shown
    )
    more = f'<span class="more">+{len(snapshots) - len(shown)} older in the picker</span>' if len(shown) < len(snapshots) else ""
    return f'<nav class="snaps" aria-label="Published snapshots">{links}{more}</nav>'


def _toolbar(snapshots: list[dict], chosen: dt.date, warning: str | None) -> str:
    options = "".join(
        f'<option value="{s["as_of_date"]}"{" selected" if s["as_of_date"] == chosen else ""}>'
        f'{s["as_of_date"]}{" (latest)" if index == 0 else ""}</option>'
        for index, s in enumerate(snapshots)
    )
    banner = f'<p class="seg-warn">{html.escape(warning)}</p>' if warning else ""
    return f"""<div class="seg-toolbar">
<div class="seg-toolbar-inner">
<span class="seg-title">{PAGE_NAME}</span>
<form method="get" action="{URL_PREFIX}/" class="seg-picker">
<label for="as_of">Snapshot</label>
<select id="as_of" name="as_of" onchange="this.form.submit()">{options}</select>
<noscript><button type="submit">Show</button></noscript>
</form>
<span class="seg-count">{len(snapshots)} published</span>
<a class="seg-raw" href="{URL_PREFIX}/reports/{chosen}/report.html" target="_blank" rel="noopener">Open report file</a>
</div>
<div class="seg-toolbar-inner">{_snapshot_links(snapshots, chosen, RECENT_LINKS)}</div>
{banner}
</div>"""


_TOOLBAR_CSS = """
.seg-toolbar { background: #ffffff; border-bottom: 1px solid #e3e6ea; position: sticky; top: 0; z-index: 10;
               box-shadow: 0 1px 3px rgba(16, 24, 40, 0.06); }
.seg-toolbar-inner { max-width: 1120px; margin: 0 auto; padding: 8px 24px; display: flex; flex-wrap: wrap;
                     align-items: center; gap: 10px 18px; }
.seg-toolbar-inner + .seg-toolbar-inner { padding-top: 0; }
.seg-title { font-weight: 700; font-size: 16px; margin-right: auto; }
.seg-picker { display: flex; align-items: center; gap: 8px; margin: 0; }
.seg-picker label { color: #5b6573; font-size: 13px; }
.seg-picker select { font: inherit; font-size: 14px; padding: 5px 8px; border: 1px solid #c9ced6;
                     border-radius: 6px; background: #fff; color: #1f2630; }
.seg-count, .more { color: #5b6573; font-size: 13px; }
.seg-raw { font-size: 13px; color: #2f5d9e; }
.snaps { display: flex; flex-wrap: wrap; gap: 6px; align-items: center; }
.snap { font-size: 12.5px; padding: 2px 9px; border-radius: 999px; border: 1px solid #d5dae1; color: #39424e;
        text-decoration: none; font-variant-numeric: tabular-nums; }
.snap:hover { border-color: #2f5d9e; color: #2f5d9e; }
.snap.current { background: #2f5d9e; border-color: #2f5d9e; color: #fff; }
.seg-warn { max-width: 1120px; margin: 0 auto 8px; padding: 8px 24px; color: #8a4b00; background: #fff7e6; }
"""


def _page(title: str, body: str, status_code: int = 200) -> HTMLResponse:
    """A small page in the report's style: errors and the empty state."""
    return HTMLResponse(f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)} · {PAGE_NAME}</title>
<style>
body {{ margin: 0; background: #f4f6f8; color: #1f2630;
        font: 15px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, Arial, "DejaVu Sans", sans-serif; }}
main {{ max-width: 760px; margin: 48px auto; background: #fff; border: 1px solid #e3e6ea; border-radius: 12px;
        padding: 24px 28px; }}
h1 {{ font-size: 22px; margin: 0 0 12px; }}
.warn {{ color: #8a4b00; background: #fff7e6; padding: 8px 12px; border-radius: 6px; }}
code {{ background: #e9edf2; padding: 1px 6px; border-radius: 4px; }}
a {{ color: #2f5d9e; }}
{_TOOLBAR_CSS}
.snaps {{ margin-top: 12px; }}
</style></head>
<body><main><p style="color:#5b6573;margin:0 0 4px">{PAGE_NAME}</p><h1>{html.escape(title)}</h1>{body}</main></body></html>
""", status_code=status_code, headers={"Cache-Control": "no-store"})


class CustomerSegmentsPlugin(AirflowPlugin):
    """The Customer segments page: a FastAPI app in the api-server and a navigation entry in the UI."""

    name = "customer_segments"
    fastapi_apps = [{"app": app, "url_prefix": URL_PREFIX, "name": PAGE_NAME}]
    external_views = [{
        "name": PAGE_NAME,
        "href": f"{URL_PREFIX}/",
        "destination": "nav",
        "url_route": "customer-segments",
        "icon": f"{URL_PREFIX}/icon.svg",
        "nav_top_level": True,
    }]
