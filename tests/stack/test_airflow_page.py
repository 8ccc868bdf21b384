"""The Customer segments page inside a real Airflow api-server, seen through a real browser."""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import httpx
import pytest

from browser import ARTIFACTS_DIR, PROJECT_ROOT, assert_real_screenshot, browser_page
from pipeline_helpers import run_stages
from segments.tools import local

AS_OF = dt.date(2011, 12, 10)
SEGMENT_NAMES = ("VIP Premium", "Core Regular", "Entry-Level")
READER, PASSWORD = "reader", "segments-test-password"


class ApiServer:
    """`airflow api-server` in a subprocess of its own, with a known viewer account."""

    def __init__(self, workdir: Path):
        self.port = local.free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.reports_dir = workdir / "reports"
        self.log_path = workdir / "api-server.log"
        passwords = workdir / "passwords.json"
        passwords.write_text(json.dumps({READER: PASSWORD}))
        self.env = {
            **os.environ,
            "AIRFLOW__CORE__AUTH_MANAGER": "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{READER}:viewer",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
            "SEGMENTS_REPORTS_DIR": str(self.reports_dir),
        }
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        local.ensure_airflow_metadata()
        with self.log_path.open("w") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "airflow", "api-server", "--host", "127.0.0.1", "--port", str(self.port),
                 "--workers", "1"],
                env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )

    def wait_until_ready(self, timeout_seconds: float = 180) -> None:
        deadline = time.monotonic() + timeout_seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"airflow api-server exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                if httpx.get(f"{self.url}/api/v2/monitor/health", timeout=5).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        pytest.fail(f"airflow api-server did not answer within {timeout_seconds}s:\n{self.log_tail()}")

    def token(self) -> str:
        response = httpx.post(f"{self.url}/auth/token", json={"username": READER, "password": PASSWORD}, timeout=30)
        assert response.status_code in (200, 201), response.text
        return response.json()["access_token"]

    def stop(self) -> int | None:
        """SIGTERM and wait, as a service manager would; kill the process group only if it hangs."""
        if self.process is None or self.process.poll() is not None:
            return None if self.process is None else self.process.returncode
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
            return None

    def log_tail(self, characters: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-characters:] if self.log_path.exists() else ""


@pytest.fixture
def api_server(tmp_path):
    server = ApiServer(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.real_data
def test_customer_segments_page_in_airflow(real_source, warehouse, api_server):
    run_stages(real_source, warehouse, AS_OF)  # while the api-server boots
    api_server.wait_until_ready()
    base = api_server.url

    # Behind Airflow's login: refused without a token, and a browser is sent to the login page.
    assert httpx.get(f"{base}/segments/", timeout=30).status_code == 401
    redirect = httpx.get(f"{base}/segments/", headers={"Accept": "text/html"}, timeout=30)
    assert redirect.status_code == 303 and redirect.headers["location"].startswith("/auth/login")

    token = api_server.token()
    cookies = {"_token": token}
    unknown = httpx.get(f"{base}/segments/", params={"as_of": "2011-01-01"}, cookies=cookies, timeout=60)
    assert unknown.status_code == 404 and "2011-01-01" in unknown.text and "2011-12-10" in unknown.text
    invalid = httpx.get(f"{base}/segments/", params={"as_of": "yesterday"}, cookies=cookies, timeout=60)
    assert invalid.status_code == 400 and "YYYY-MM-DD" in invalid.text

    screenshot = ARTIFACTS_DIR / "airflow-segments-page.png"
    in_ui = ARTIFACTS_DIR / "airflow-segments-in-ui.png"
    with browser_page() as page:
        page.context.add_cookies([{"name": "_token", "value": token, "url": base}])
        response = page.goto(f"{base}/segments/")
        assert response.status == 200
        assert page.title() == "Customer segments as of 2011-12-10"
        picker = page.locator("select#as_of")
        assert picker.is_visible() and picker.input_value() == "2011-12-10"
        for name in SEGMENT_NAMES:
            assert page.get_by_text(name, exact=False).first.is_visible()
        # What each segment means, in the words segments.segment_definitions publishes.
        for (action,) in warehouse.execute("select recommended_action from segments.segment_definitions "
                                           "where as_of_date = %s", (AS_OF,)).fetchall():
            assert page.get_by_text(action, exact=True).first.is_visible()
        assert page.eval_on_selector_all("img", "images => images.filter(i => i.naturalWidth > 500).length") >= 3
        page.screenshot(path=str(screenshot), full_page=True)

        # The navigation entry of the Airflow UI opens the page inside Airflow.
        page.goto(f"{base}/plugin/customer-segments")
        page.get_by_role("link", name="Customer segments").first.wait_for()
        page.frame_locator("iframe").first.get_by_text("VIP Premium").first.wait_for()
        page.screenshot(path=str(in_ui))

    # Built on the fly from the warehouse, into the configured reports folder.
    assert (api_server.reports_dir / "2011-12-10" / "report.html").is_file()
    assert_real_screenshot(screenshot, min_height=1500, min_colours=200)
    assert_real_screenshot(in_ui, min_colours=200)
    assert api_server.stop() == 0, api_server.log_tail()


# The page's own behaviour, in-process (no api-server): Airflow's login is stubbed out.

def load_plugin():
    spec = importlib.util.spec_from_file_location("segments_plugin", PROJECT_ROOT / "plugins" / "segments_plugin.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def page_client(monkeypatch, tmp_path):
    with warnings.catch_warnings():  # starlette's notice about its test client's transport
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient

    plugin = load_plugin()
    plugin.app.dependency_overrides[plugin.require_reader] = lambda: None
    monkeypatch.setenv("SEGMENTS_REPORTS_DIR", str(tmp_path / "reports"))
    with TestClient(plugin.app) as client:
        client.reports_dir = tmp_path / "reports"
        yield client


def test_the_plugin_registers_the_app_and_a_navigation_entry():
    plugin = load_plugin().CustomerSegmentsPlugin
    (fastapi_app,) = plugin.fastapi_apps
    assert fastapi_app["url_prefix"] == "/segments" and fastapi_app["name"] == "Customer segments"
    (view,) = plugin.external_views
    assert view["name"] == "Customer segments" and view["href"] == "/segments/" and view["destination"] == "nav"


def test_page_before_the_first_snapshot(page_client, warehouse):
    response = page_client.get("/")
    assert response.status_code == 200
    assert "No snapshot has been published yet" in response.text


def test_page_serves_reports_on_disk_when_the_warehouse_is_down(page_client, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_SEGMENT_WAREHOUSE", "postgresql://nobody:secret@127.0.0.1:9/nowhere")
    for day in ("2011-12-09", "2011-12-10"):
        folder = page_client.reports_dir / day
        folder.mkdir(parents=True)
        (folder / "report.html").write_text(
            f"<!DOCTYPE html><html><head><title>{day}</title></head><body><main>REPORT {day}</main></body></html>"
        )

    latest = page_client.get("/")
    assert latest.status_code == 200
    assert "REPORT 2011-12-10" in latest.text and "cannot be reached" in latest.text
    assert "secret" not in latest.text
    assert '<option value="2011-12-10" selected>2011-12-10 (latest)</option>' in latest.text
    assert '<option value="2011-12-09">' in latest.text
    assert "REPORT 2011-12-09" in page_client.get("/", params={"as_of": "2011-12-09"}).text

    unknown = page_client.get("/", params={"as_of": "2011-12-11"})
    assert unknown.status_code == 404 and "2011-12-11" in unknown.text and "?as_of=2011-12-10" in unknown.text
    invalid = page_client.get("/", params={"as_of": "12/10/2011"})
    assert invalid.status_code == 400 and "YYYY-MM-DD" in invalid.text
    assert page_client.get("/reports/2011-12-10/report.html").status_code == 200
    assert page_client.get("/reports/2011-12-10/secrets.txt").status_code == 404
    assert page_client.get("/reports/2011-12-08/report.html").status_code == 404
    assert page_client.get("/reports/last-week/report.html").status_code == 400


def test_page_escapes_what_the_reader_typed(page_client):
    response = page_client.get("/", params={"as_of": "<script>alert(1)</script>"})
    assert response.status_code == 400
    assert "<script>" not in response.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in response.text
