"""A "Customer segments" page inside Airflow: the report of any published snapshot.

The api-server mounts the FastAPI app below at /segments; the Airflow UI shows it as a
top-level navigation entry, embedded at /plugin/customer-segments. The page lists the published
snapshots (newest first) and shows one snapshot's report (default: the latest one;
`?as_of=YYYY-MM-DD` picks another). Reports are read from the reports folder
(SEGMENTS_REPORTS_DIR) and rebuilt from the warehouse (Airflow connection `segment_warehouse`,
in a read-only session) when missing or built from another run of that date. The pages are
rendered from the report's templates (`segments/outputs/report/templates/`), on the same base
template and stylesheet as the report, which shows the report file's body under a toolbar.

Readers need to be logged in to Airflow with read access to the `customer_segmentation` DAG,
exactly as for the DAG's own pages. Every process that loads plugins imports this module, so
it stays light: the project, matplotlib and Airflow's API security are imported per request.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import threading
from typing import Any

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from markupsafe import Markup

from airflow.plugins_manager import AirflowPlugin

from segments.settings import DAG_ID, REPORT_PAGE_PATH

log = logging.getLogger(__name__)

URL_PREFIX = REPORT_PAGE_PATH
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
        return _message_page(status_code=error.status_code, **error.detail)
    if error.status_code == 401:
        return _message_page("Log in to Airflow first", Markup(
            '<p>This page shows what Airflow shows: <a href="/">log in</a>, then come back.</p>'), status_code=401)
    if error.status_code == 403:
        return _message_page("Not allowed", Markup(
            "<p>Reading customer segments needs read access to the <code>{}</code> DAG; ask an Airflow admin.</p>"
        ).format(DAG_ID), status_code=403)
    return _message_page(f"{error.status_code}", Markup("<p>{}</p>").format(error.detail),
                         status_code=error.status_code)


@app.get("/icon.svg", include_in_schema=False)
def icon() -> Response:
    return Response(ICON_SVG, media_type="image/svg+xml", headers={"Cache-Control": "max-age=86400"})


@app.get("/", response_class=HTMLResponse, dependencies=[Depends(require_reader)])
def segments_page(as_of: str | None = None) -> Response:
    """The report of one published snapshot, under a snapshot picker."""
    from segments.outputs import report
    from segments.settings import Settings

    requested = _parse_date(as_of)
    reports_dir = Settings().reports_dir
    snapshots, warehouse_error = _snapshots(reports_dir)
    if not snapshots:
        body = Markup(
            "<p>No snapshot has been published yet. Run the <code>customer_segmentation</code> DAG "
            "(or <code>segments run</code>) and come back.</p>"
        )
        if warehouse_error:
            body = Markup('<p class="warn">{}</p>').format(warehouse_error) + body
        return _message_page(PAGE_NAME, body, status_code=503 if warehouse_error else 200)
    by_date = {snapshot["as_of_date"]: snapshot for snapshot in snapshots}
    chosen = requested or snapshots[0]["as_of_date"]
    if chosen not in by_date:
        raise HTTPException(404, {
            "title": f"No snapshot for {chosen}",
            "body": Markup("<p>Snapshot <strong>{}</strong> is not published. Pick a published one:</p>")
                    .format(chosen),
            "snapshots": snapshots,
        })
    return _render(
        "plugin_page.html.j2",
        title=report.report_title(chosen),
        snapshots=snapshots,
        chosen=chosen,
        recent_links=RECENT_LINKS,
        warning=warehouse_error,
        report_body=_report_body(by_date[chosen], reports_dir, warehouse_error is None),
    )


@app.get("/reports/{as_of}/{name}", dependencies=[Depends(require_reader)])
def report_file(as_of: str, name: str) -> Response:
    """A report's files as they are on disk: report.html and the PNG charts."""
    from segments.settings import Settings

    day = _parse_date(as_of)
    if not _FILE_NAME.match(name):
        raise HTTPException(404, {"title": "Not found", "body": Markup("<p>No report file named {}.</p>").format(name)})
    path = Settings().reports_dir / day.isoformat() / name
    if not path.is_file():
        raise HTTPException(404, {
            "title": "Not found",
            "body": Markup('<p>No {} for {} yet: open <a href="{}/?as_of={}">the snapshot\'s page</a> to build '
                           "its report.</p>").format(name, day, URL_PREFIX, day),
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
            "body": Markup(
                "<p><code>{value}</code> is not a date: use <code>?as_of=YYYY-MM-DD</code>, "
                'e.g. <a href="{prefix}/?as_of=2011-12-10">?as_of=2011-12-10</a>, or '
                '<a href="{prefix}/">the latest snapshot</a>.</p>'
            ).format(value=value, prefix=URL_PREFIX),
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


def _report_body(snapshot: dict, reports_dir, warehouse_up: bool) -> Markup:
    """What the report file of a snapshot shows, the file (re)built first if missing or from another run."""
    from segments.outputs import report

    as_of = snapshot["as_of_date"]
    path = report.report_path(reports_dir, as_of)
    if warehouse_up and report.report_run_id(path) != snapshot["run_id"]:
        with _build_lock:
            if report.report_run_id(path) != snapshot["run_id"]:
                path = _build(as_of, reports_dir)
    try:
        return report.report_body(path)
    except FileNotFoundError:
        raise HTTPException(503, {
            "title": f"No report for {as_of} yet",
            "body": Markup("<p>The report is not built and the warehouse cannot be reached to build it. "
                           "Try again shortly.</p>"),
        }) from None


def _build(as_of: dt.date, reports_dir):
    import tempfile
    from pathlib import Path

    from segments.outputs import report

    with _warehouse() as conn:
        try:
            return report.build_report(conn, as_of, reports_dir)
        except LookupError as error:
            raise HTTPException(404, {"title": f"No snapshot for {as_of}", "body": Markup("<p>{}</p>").format(error)})
        except PermissionError as error:
            # A read-only reports folder: build into a private folder, served this once.
            log.warning("Customer segments page: cannot write to %s (%s); building in a temporary folder.",
                        reports_dir, error)
            return report.build_report(conn, as_of, Path(tempfile.mkdtemp(prefix="segments-report-")))


def _render(template: str, status_code: int = 200, **context) -> HTMLResponse:
    """A page from the report's templates, never cached: it follows what is published."""
    from segments.outputs import report

    page = report.render_page(template, page_name=PAGE_NAME, url_prefix=URL_PREFIX, **context)
    return HTMLResponse(page, status_code=status_code, headers={"Cache-Control": "no-store"})


def _message_page(
    title: str, body: Markup, status_code: int = 200, snapshots: list[dict] | None = None
) -> HTMLResponse:
    """A short page in the report's style: errors and the empty state, with links to `snapshots` if given."""
    return _render("plugin_message.html.j2", status_code, title=title, body=body, snapshots=snapshots or [])


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
