"""`make citus`: Citus, the distributed PostgreSQL extension, built for the embedded PostgreSQL.

The source is `../shared/citus/citus-<version>.tar.gz` beside the clone (or `SEGMENTS_CITUS_SOURCE`),
else the same release downloaded from GitHub (or `SEGMENTS_CITUS_DOWNLOAD_URL`, a mirror). The build is kept in the user's cache folder, keyed
by the Citus and PostgreSQL versions, so a second call (another clone, a fresh `.venv`) only copies
files: seconds instead of the compile.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import tarfile
import tempfile
import urllib.request
from collections.abc import Callable
from pathlib import Path

from segments.settings import CITUS_SOURCE as SOURCE
from segments.settings import CITUS_DOWNLOAD_URL as DOWNLOAD_URL
from segments.settings import CITUS_VERSION, USER_CACHE_DIR
from segments.tools.server import pginstall

# The wheel's PGXS passes clang-only warning flags that gcc rejects: the build brings its own.
CFLAGS = "-O2 -fPIC -std=gnu99"


class CitusBuildError(RuntimeError):
    """The build cannot go on; the message says what to install or where to look."""


def _postgres_version() -> str:
    output = subprocess.run([str(pginstall() / "bin" / "pg_config"), "--version"], capture_output=True, text=True,
                            check=True).stdout
    return output.split()[-1]


def cache_dir() -> Path:
    return USER_CACHE_DIR / f"citus-{CITUS_VERSION}-pg{_postgres_version()}"


def _cached_files(cache: Path) -> list[Path]:
    return sorted(path.relative_to(cache) for path in cache.rglob("*") if path.is_file() and path.name != "build.log")


def installed() -> bool:
    """Whether the embedded PostgreSQL has this Citus (every file of the cached build, same size)."""
    cache = cache_dir()
    files = _cached_files(cache) if cache.exists() else []
    return bool(files) and all((pginstall() / f).exists() and (pginstall() / f).stat().st_size == (cache / f).stat().st_size
                               for f in files)


def require_compiler() -> None:
    missing = [] if shutil.which("gcc") or shutil.which("cc") else ["a C compiler (gcc or cc)"]
    missing += [] if shutil.which("make") else ["make"]
    if missing:
        raise CitusBuildError(
            f"Building Citus needs {' and '.join(missing)}, not found on PATH. Install them (Debian or Ubuntu: "
            "`sudo apt-get install build-essential`) and run `make citus` again.")


def ensure(say: Callable[[str], None] = print) -> Path:
    """Build (once per Citus and PostgreSQL version) and install Citus; return the cache folder."""
    cache = cache_dir()
    cache.parent.mkdir(parents=True, exist_ok=True)
    with (cache.parent / f"{cache.name}.lock").open("a") as lock:
        # Two simultaneous calls: the second waits, then finds the build done.
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (cache.exists() and _cached_files(cache)):
            _build(cache, say)
        else:
            say(f"Citus {CITUS_VERSION} for PostgreSQL {_postgres_version()}: built before, in {cache}")
        if not installed():
            for relative in _cached_files(cache):
                target = pginstall() / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(cache / relative, target)
        say(f"Citus {CITUS_VERSION} is installed in {pginstall()}")
    return cache


def _source_archive(work: Path, say: Callable[[str], None]) -> Path:
    if SOURCE.exists():
        return SOURCE
    say(f"{SOURCE} is absent: downloading Citus {CITUS_VERSION} from {DOWNLOAD_URL}")
    archive = work / SOURCE.name
    try:
        with urllib.request.urlopen(DOWNLOAD_URL, timeout=60) as response, archive.open("wb") as out:
            shutil.copyfileobj(response, out)
    except OSError as error:
        raise CitusBuildError(f"Could not download {DOWNLOAD_URL}: {error}. Put the release tarball at {SOURCE} "
                              "(or set SEGMENTS_CITUS_SOURCE, or SEGMENTS_CITUS_DOWNLOAD_URL to a mirror) and run "
                              "`make citus` again.") from None
    return archive


def _build(cache: Path, say: Callable[[str], None]) -> None:
    require_compiler()
    with tempfile.TemporaryDirectory(prefix="citus-build-") as temporary:
        work = Path(temporary)
        log = work / "build.log"
        with tarfile.open(_source_archive(work, say)) as archive:
            archive.extractall(work, filter="data")
        (source,) = [path for path in work.iterdir() if path.is_dir()]
        stage = work / "stage"
        pg_config = pginstall() / "bin" / "pg_config"
        steps = [
            ("configure", ["./configure", f"PG_CONFIG={pg_config}", "--without-libcurl", "--without-lz4",
                           "--without-zstd"]),
            ("compile (about a minute on 2 cores)", ["make", f"-j{os.cpu_count() or 1}", f"CFLAGS={CFLAGS}"]),
            ("stage", ["make", "install", f"DESTDIR={stage}", f"CFLAGS={CFLAGS}"]),
        ]
        for label, command in steps:
            say(f"Citus {CITUS_VERSION}: {label} ...")
            with log.open("a") as output:
                result = subprocess.run(command, cwd=source, stdout=output, stderr=subprocess.STDOUT, check=False)
            if result.returncode != 0:
                tail = "\n".join(log.read_text().splitlines()[-30:])
                raise CitusBuildError(f"Citus {label} failed (exit {result.returncode}); the last lines of its log:\n"
                                      f"{tail}")
        staged = stage / pginstall().relative_to(pginstall().anchor)
        partial = cache.with_name(cache.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        shutil.copytree(staged, partial)
        shutil.copy2(log, partial / "build.log")
        shutil.rmtree(cache, ignore_errors=True)
        # Renamed when complete: an interrupted build leaves no half cache behind.
        partial.rename(cache)
