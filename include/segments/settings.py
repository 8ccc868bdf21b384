"""Every tunable of the pipeline in one place, each overridable from the environment.

The DAG, the CLI and the tests read these values; nothing else hard-codes a threshold.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SQL_DIR = Path(os.environ.get("SEGMENTS_SQL_DIR", PROJECT_ROOT / "sql"))
LOCAL_DIR = Path(os.environ.get("SEGMENTS_LOCAL_DIR", PROJECT_ROOT / ".local"))
# The embedded PostgreSQL of `segments db start`, `make test` and the local Airflow. Below 32768,
# so outside the ports Linux (32768-60999) and macOS (49152-65535) lend to outgoing connections:
# a server that starts while a client socket holds its port fails with "Address already in use",
# as a test cluster's coordinator once did on 55558 during `make test`.
LOCAL_PG_PORT = int(os.environ.get("SEGMENTS_PG_PORT", "25432"))
# The local Citus cluster (`segments cluster start`): the coordinator here, workers on the next ports.
LOCAL_CITUS_PORT = int(os.environ.get("SEGMENTS_CITUS_PORT", str(LOCAL_PG_PORT + 10)))
# Citus, built by `make citus` from this source (beside the clone, else downloaded), and kept in
# the user's cache folder across clones.
CITUS_VERSION = "14.0.1"
CITUS_SOURCE = Path(os.environ.get("SEGMENTS_CITUS_SOURCE",
                                   PROJECT_ROOT.parent / "shared" / "citus" / f"citus-{CITUS_VERSION}.tar.gz"))
CITUS_DOWNLOAD_URL = os.environ.get("SEGMENTS_CITUS_DOWNLOAD_URL",
                                    f"https://github.com/citusdata/citus/archive/refs/tags/v{CITUS_VERSION}.tar.gz")
USER_CACHE_DIR = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "segments"

# The number of segments a run may ask for; k=auto picks the best silhouette in this range.
K_MIN, K_MAX = 2, 8

DAG_ID = "customer_segmentation"
# Where the api-server mounts the "Customer segments" page (plugins/segments_plugin.py).
REPORT_PAGE_PATH = "/segments"
SOURCE_CONN_ID = "retail_source"
WAREHOUSE_CONN_ID = "segment_warehouse"

# The source's contract: the invoice line columns the pipeline reads, in COPY order.
SOURCE_COLUMNS = (
    "invoice_no", "stock_code", "description", "quantity", "invoice_date", "unit_price", "customer_id", "country",
)

# Every feature the pipeline computes and publishes, in publishing order.
ALL_FEATURES = (
    "recency_days",
    "frequency_invoices",
    "monetary_revenue",
    "avg_order_revenue",
    "items_per_order",
    "tenure_days",
    "return_rate",
    "distinct_products",
)
# Recency, frequency and monetary value: the notebook analysis' features.
RFM_FEATURES = ("recency_days", "frequency_invoices", "monetary_revenue")
# What a customer's orders look like: their value and size (a candidate addition, `segments evaluate`).
BASKET_FEATURES = ("avg_order_revenue", "items_per_order")

# Stock codes that are not products: postage, manual adjustments, discounts, fees, samples.
NON_PRODUCT_STOCK_CODES = (
    "POST", "DOT", "M", "m", "D", "C2", "CRUK", "BANK CHARGES", "AMAZONFEE", "PADS", "S", "B",
)
# Stock code prefixes of non-products (gift vouchers, test items).
NON_PRODUCT_STOCK_CODE_PREFIXES = ("gift_", "TEST")


def analyst_password_from_environment() -> str | None:
    """SEGMENTS_ANALYST_PASSWORD, read when needed: a secret is never held in Settings (which gets logged)."""
    return os.environ.get("SEGMENTS_ANALYST_PASSWORD")


def _env(name: str, default: str) -> str:
    return os.environ.get(f"SEGMENTS_{name}", default)


def _env_tuple(name: str, default: tuple[str, ...]) -> tuple[str, ...]:
    raw = os.environ.get(f"SEGMENTS_{name}")
    return tuple(part.strip() for part in raw.split(",") if part.strip()) if raw else default


@dataclass(frozen=True)
class Settings:
    """Pipeline configuration; defaults reproduce the original analysis."""

    timezone: str = field(default_factory=lambda: _env("TIMEZONE", "Europe/London"))
    # ISO 4217 code of every money column (the Online Retail data is in pounds sterling).
    currency: str = field(default_factory=lambda: _env("CURRENCY", "GBP"))
    schedule_time: str = field(default_factory=lambda: _env("SCHEDULE_TIME", "02:00"))
    source_table: str = field(default_factory=lambda: _env("SOURCE_TABLE", "retail.invoice_lines"))
    lookback_days: int = field(default_factory=lambda: int(_env("LOOKBACK_DAYS", "3")))
    model_features: tuple[str, ...] = field(default_factory=lambda: _env_tuple("MODEL_FEATURES", RFM_FEATURES))
    k: str = field(default_factory=lambda: _env("K", "3"))
    random_seed: int = field(default_factory=lambda: int(_env("RANDOM_SEED", "42")))
    # Quantile of each log feature above which values are clipped before scaling, so that a
    # handful of wholesale buyers cannot pull a centroid of their own.
    clip_quantile: float = field(default_factory=lambda: float(_env("CLIP_QUANTILE", "0.995")))
    silhouette_sample_size: int = field(default_factory=lambda: int(_env("SILHOUETTE_SAMPLE", "5000")))
    # Lines with an absolute quantity at or above this are typing errors, not orders.
    max_abs_quantity: int = field(default_factory=lambda: int(_env("MAX_ABS_QUANTITY", "10000")))
    # Lines priced at or above this per unit (in the source's currency) are typing errors too.
    max_unit_price: float = field(default_factory=lambda: float(_env("MAX_UNIT_PRICE", "100000")))
    # The predecessor of snapshot D, whose segment ids and centroids D continues, is the latest
    # snapshot published at most this many days before D; none (a fresh start) beyond that.
    # With 1, a snapshot depends only on the source and the snapshot of the day before.
    predecessor_max_gap_days: int = field(default_factory=lambda: int(_env("PREDECESSOR_MAX_GAP_DAYS", "1")))
    # A snapshot whose newest source line is older than this many days describes a shop that
    # stopped selling (or a source that stopped syncing): refused instead of published.
    # How often a run checks whether the run of the day before has finished (it waits at most
    # until its own run timeout).
    predecessor_poke_seconds: int = field(default_factory=lambda: int(_env("PREDECESSOR_POKE_SECONDS", "2")))
    max_source_staleness_days: int = field(default_factory=lambda: int(_env("MAX_SOURCE_STALENESS_DAYS", "60")))
    # Quality gate.
    min_segment_share: float = field(default_factory=lambda: float(_env("MIN_SEGMENT_SHARE", "0.02")))
    min_silhouette: float = field(default_factory=lambda: float(_env("MIN_SILHOUETTE", "0.20")))
    max_migration_share: float = field(default_factory=lambda: float(_env("MAX_MIGRATION_SHARE", "0.25")))
    # Customers or revenue growing or shrinking by this factor from the predecessor: not a real night.
    max_jump_factor: float = field(default_factory=lambda: float(_env("MAX_JUMP_FACTOR", "10")))
    # Republishing a date with this share fewer customers than it had needs `force`.
    max_republish_shrink_share: float = field(default_factory=lambda: float(_env("MAX_REPUBLISH_SHRINK_SHARE", "0.20")))
    # Above this many customers, training uses a bounded sample and scoring happens in SQL.
    max_training_customers: int = field(default_factory=lambda: int(_env("MAX_TRAINING_CUSTOMERS", "200000")))
    # Working memory (a PostgreSQL size) of the transactions that rebuild the aggregates: a first
    # run's rebuild sorts and hashes all history at once.
    work_mem: str = field(default_factory=lambda: _env("WORK_MEM", "512MB"))
    # How long a run waits for another run's hold on the shared warehouse tables: long enough for
    # a full extract of a large history, short enough that a stuck run is noticed.
    lock_timeout_seconds: int = field(default_factory=lambda: int(_env("LOCK_TIMEOUT_SECONDS", "1800")))
    # Transient failures (a dropped connection) are retried; PermanentError never is.
    task_retries: int = field(default_factory=lambda: int(_env("TASK_RETRIES", "2")))
    # How long a run waits for a database that went away (a server restart) to accept connections
    # again: Airflow's metadata database under `segments run`, and the warehouse when publish
    # must find out whether its transaction committed before the connection broke.
    reconnect_wait_seconds: int = field(default_factory=lambda: int(_env("RECONNECT_WAIT_SECONDS", "120")))
    # A hung task or run fails at these limits, and so alerts like any failure.
    task_timeout_minutes: int = field(default_factory=lambda: int(_env("TASK_TIMEOUT_MINUTES", "60")))
    run_timeout_hours: int = field(default_factory=lambda: int(_env("RUN_TIMEOUT_HOURS", "6")))
    # Business time (HH:MM) by which the nightly run must have published snapshot D on day D.
    publish_deadline: str = field(default_factory=lambda: _env("PUBLISH_DEADLINE", "07:00"))
    reports_dir: Path = field(default_factory=lambda: Path(_env("REPORTS_DIR", str(LOCAL_DIR / "reports"))))
    # The Airflow web address analysts open (its own AIRFLOW__API__BASE_URL unless set apart).
    airflow_url: str = field(default_factory=lambda: _env(
        "AIRFLOW_URL", os.environ.get("AIRFLOW__API__BASE_URL", "http://localhost:8080")).rstrip("/"))

    @property
    def report_page_url(self) -> str:
        """The "Customer segments" page in Airflow; `?as_of=YYYY-MM-DD` picks a snapshot."""
        return f"{self.airflow_url}{REPORT_PAGE_PATH}/"

    def __post_init__(self) -> None:
        unknown = sorted(set(self.model_features) - set(ALL_FEATURES))
        if unknown:
            raise ValueError(
                f"SEGMENTS_MODEL_FEATURES names unknown features {unknown}; "
                f"choose from {', '.join(ALL_FEATURES)}."
            )
        if self.publish_deadline_after_schedule <= dt.timedelta(0):
            raise ValueError(
                f"SEGMENTS_PUBLISH_DEADLINE ({self.publish_deadline}) must be later in the day than "
                f"SEGMENTS_SCHEDULE_TIME ({self.schedule_time}), the nightly run's start."
            )
        if "." not in self.source_table:
            raise ValueError(f"SEGMENTS_SOURCE_TABLE must be schema-qualified (schema.table), got {self.source_table!r}.")

    @property
    def publish_deadline_after_schedule(self) -> dt.timedelta:
        """How long after its scheduled start the nightly run must have published."""
        deadline, start = (dt.datetime.strptime(text, "%H:%M") for text in (self.publish_deadline, self.schedule_time))
        return deadline - start
