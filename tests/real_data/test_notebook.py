"""The analysts' notebook runs, headless, against a published history, as the read-only role."""

from __future__ import annotations

import base64
import json
import time

import pytest

from browser import ARTIFACTS_DIR
from segments.settings import PROJECT_ROOT
from segments.tools import server
from conftest import HISTORY_WAREHOUSE

NOTEBOOK = PROJECT_ROOT / "notebooks" / "explore_segments.ipynb"


def test_the_notebook_is_committed_without_outputs_or_credentials():
    notebook = json.loads(NOTEBOOK.read_text())
    code = [cell for cell in notebook["cells"] if cell["cell_type"] == "code"]
    assert code and all(cell["outputs"] == [] and cell["execution_count"] is None for cell in code)
    text = NOTEBOOK.read_text()
    assert "SEGMENTS_ANALYST_URL" in text and "password" not in text.lower() and "postgresql://segments" not in text


@pytest.mark.real_data
def test_the_notebook_runs_every_cell_on_the_published_history(published_history, monkeypatch):
    import nbformat
    from nbclient import NotebookClient

    monkeypatch.setenv("SEGMENTS_ANALYST_URL", server.analyst_url(HISTORY_WAREHOUSE))
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    started = time.perf_counter()
    # A cell that raises fails the run (CellExecutionError), naming the cell.
    NotebookClient(notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()
    seconds = time.perf_counter() - started

    figures = [
        base64.b64decode(output["data"]["image/png"])
        for cell in notebook.cells if cell.cell_type == "code"
        for output in cell.outputs if "image/png" in output.get("data", {})
    ]
    assert len(figures) == 4, "distributions, elbow and silhouette, 2-D view, sizes over time"
    ARTIFACTS_DIR.mkdir(parents=True, exist_ok=True)
    for name, figure in zip(("notebook-feature-distributions.png", "notebook-elbow-silhouette.png"), figures):
        (ARTIFACTS_DIR / name).write_bytes(figure)
    text = "".join(output.get("text", "") for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs)
    assert "Snapshot 2011-12-10: " in text and "Adjusted Rand index against the published segments: " in text
    print(f"notebook: {len(notebook.cells)} cells, executed in {seconds:.1f} s")
