"""The HTML report of a published snapshot: rebuilt from the warehouse alone, self-contained,
and rendered by a real browser."""

from __future__ import annotations

import datetime as dt
import html
import re

import pytest

from browser import ARTIFACTS_DIR, assert_real_screenshot, browser_page
from pipeline_helpers import run_stages
from segments import queries
from segments.outputs import report
from segments.tools import load
from segments.tools.generate import generate_copy_chunks

SEGMENT_NAMES = ("VIP Premium", "Core Regular", "Entry-Level")
REAL_AS_OF = dt.date(2011, 12, 10)


def read_only(warehouse) -> None:
    """From now on the session cannot write: proves the report only reads."""
    queries.execute(warehouse, "reads/report_read_only_session.sql")


def assert_self_contained(page: str) -> None:
    assert "<style>" in page
    assert not re.search(r"<(script|link|iframe)\b", page, re.IGNORECASE), "the report loads something"
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page, re.IGNORECASE), "external resource"
    images = re.findall(r'<img src="([^"]+)"', page)
    assert images and all(src.startswith("data:image/png;base64,") for src in images)


@pytest.mark.real_data
def test_report_of_a_real_snapshot_renders_in_a_browser(real_source, warehouse, tmp_path):
    run_stages(real_source, warehouse, dt.date(2011, 12, 9))
    run_stages(real_source, warehouse, REAL_AS_OF)
    read_only(warehouse)

    path = report.build_report(warehouse, REAL_AS_OF, tmp_path)

    assert path == tmp_path / "2011-12-10" / "report.html"
    page = path.read_text()
    assert_self_contained(page)
    assert page.count("data:image/png;base64,") == 4  # sizes, profiles, projection, migrations (k was fixed)
    for name in SEGMENT_NAMES:
        assert name in page
    assert "Customer segments as of 2011-12-10" in page
    assert "test__2011-12-10" in page  # the run id
    # What each segment means and what to do, as segments.segment_definitions publishes it.
    definitions = warehouse.execute("select segment_name, description, recommended_action from segments.segment_definitions "
                                    "where as_of_date = %s order by value_rank", (REAL_AS_OF,)).fetchall()
    assert [name for name, _, _ in definitions][0] == "VIP Premium"
    for _, description, action in definitions:
        assert html.escape(description) in page and html.escape(action) in page
    assert re.search(r"\d+% of customers, \d+% of revenue: high-value, frequent buyers.*Typically \d+ orders, "
                     r"GBP [\d,]+ in total, last purchase \d+ days? ago\.", definitions[0][1])
    assert "Protect and reward" in definitions[0][2]
    assert "Movements since 2011-12-09" in page and "no previous published snapshot" not in page
    charts = {png.name: png.stat().st_size for png in path.parent.glob("*.png")}
    assert set(charts) == {"segment_sizes.png", "profile_heatmap.png", "projection.png", "migrations.png"}
    assert all(size > 10_000 for size in charts.values()), charts
    assert report.list_reports(tmp_path) == [REAL_AS_OF]
    assert report.report_run_id(path) == "test__2011-12-10"

    screenshot = ARTIFACTS_DIR / "report-2011-12-10.png"
    with browser_page() as browser:
        browser.goto(path.as_uri())
        assert browser.title() == "Customer segments as of 2011-12-10"
        for name in SEGMENT_NAMES:
            assert browser.get_by_text(name, exact=False).first.is_visible()
        # Every embedded chart decoded and laid out by the browser.
        widths = browser.eval_on_selector_all("img", "images => images.map(image => image.naturalWidth)")
        assert len(widths) == 4 and min(widths) > 500
        browser.screenshot(path=str(screenshot), full_page=True)
    assert_real_screenshot(screenshot, min_height=1500, min_colours=200)

    with pytest.raises(LookupError, match=r"2011-12-11 is not published.*segments run --as-of 2011-12-11"):
        report.build_report(warehouse, dt.date(2011, 12, 11), tmp_path)


def test_report_of_a_first_synthetic_snapshot(source, warehouse, tmp_path):
    """No previous snapshot, k chosen automatically: the page says so and shows the k curve."""
    as_of = dt.date(2011, 7, 1)
    load.copy_into_source(
        source, generate_copy_chunks(20_000, 600, dt.date(2011, 1, 1), as_of, seed=7), replace=True
    )
    published = run_stages(source, warehouse, as_of, k="auto")
    read_only(warehouse)

    path = report.build_report(warehouse, as_of, tmp_path / "reports")

    page = path.read_text()
    assert_self_contained(page)
    assert "There is no previous published snapshot" in page
    assert "Choosing k" in page and "chosen automatically" in page
    snapshots = report.published_snapshots(warehouse)
    assert [(row["as_of_date"], row["run_id"]) for row in snapshots] == [(as_of, f"test__{as_of}")]
    assert {png.name for png in path.parent.glob("*.png")} == {
        "segment_sizes.png", "profile_heatmap.png", "projection.png", "k_selection.png",
    }
    assert page.count("Recommended action") == 1 and published["training"]["k"] == page.count("<tr><td>", 0,
                                                                                            page.index("</table>"))
    assert "VIP Premium" in page and "Entry-Level" in page


def test_list_reports_ignores_other_files_and_unfinished_reports(tmp_path):
    for name in ("2011-12-08", "2011-12-10", "2011-12-09", "notes", "2011-13-01"):
        (tmp_path / name).mkdir()
    for name in ("2011-12-08", "2011-12-10", "notes", "2011-13-01"):
        (tmp_path / name / "report.html").write_text("<html></html>")
    assert report.list_reports(tmp_path) == [dt.date(2011, 12, 10), dt.date(2011, 12, 8)]
    assert report.list_reports(tmp_path / "missing") == []


def test_report_page_escapes_the_warehouse_values(tmp_path):
    """Names and ids come from data: shown as text, never run as markup, in the report and in the page."""
    run = {
        "as_of_date": dt.date(2011, 12, 10), "run_id": 'manual__"<b>"', "published_at": None, "silhouette": None,
        "davies_bouldin": None, "bootstrap_stability": None, "customers_changed_segment": None, "k": 1,
        "k_selection": None,
        "customers_segmented": 1, "customers_excluded": 0, "lines_used": 1, "lines_in_snapshot": 1,
        "lines_excluded": 0, "lines_quarantined": 0, "model_features": ["recency_days"], "currency": "<EUR>",
    }
    segment = {
        "segment_id": 1, "segment_name": "<script>alert(1)</script> & Co", "customers": 1, "customer_share": 1,
        "revenue": 1, "revenue_share": 1, "median_recency_days": 1, "median_frequency_invoices": 1,
        "median_monetary_revenue": 1,
    }
    charts = [report.Chart(file, "<i>title</i>", "caption", b"png", 8.0)
              for file in ("segment_sizes.png", "profile_heatmap.png", "projection.png")]
    path = tmp_path / "report.html"
    definition = {"segment_id": 1, "segment_name": segment["segment_name"], "value_rank": 1,
                  "description": "<b>bold</b> claims", "recommended_action": "<img src=x onerror=alert(1)>"}
    path.write_text(report._report_page(run, [segment], [definition], charts))

    for shown in (path.read_text(), report.report_body(path)):
        assert "<script>" not in shown and "<i>" not in shown and "<b>bold" not in shown and "<img src=x" not in shown
        assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; Co" in shown and "&lt;EUR&gt;" in shown
    assert report.report_run_id(path) == 'manual__"<b>"'
