"""The bench times the pipeline's stages in a worker process that starts as a real run does."""

import json
import subprocess
import sys

# Imported by the stages themselves, when they need them (the training stage: 0.7 s on this
# machine); a worker that had them already would time a nightly run without that import.
LAZY_LIBRARIES = ("sklearn", "scipy", "matplotlib")


def test_the_pipeline_worker_has_imported_no_library_its_stages_import_lazily(tmp_path):
    # The worker's own entry point, on a warehouse it cannot reach: it fails at its first
    # connection, after everything it imports before the stages begin.
    unreachable = "postgresql://segments@127.0.0.1:9/nowhere?connect_timeout=2"
    spec = {
        "t0": 0, "label": "imports", "app_name": "bench-imports", "result_path": str(tmp_path / "result.json"),
        "source_url": unreachable, "warehouse_url": unreachable, "reports_dir": str(tmp_path),
        "as_of": "2019-11-27", "run_id": "bench__imports",
    }
    spec_path = tmp_path / "spec.json"
    spec_path.write_text(json.dumps(spec))

    worker = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "segments.tools.bench", "--worker", "pipeline", "--spec",
         str(spec_path)],
        capture_output=True, text=True, timeout=120,
    )

    result = json.loads((tmp_path / "result.json").read_text())
    assert "connect" in result["error"].lower(), result["error"]
    imported = {line.split("|")[-1].strip().split(".")[0] for line in worker.stderr.splitlines()
                if line.startswith("import time:")}
    assert "segments" in imported  # the import log is there at all
    assert imported.isdisjoint(LAZY_LIBRARIES), sorted(imported & set(LAZY_LIBRARIES))
