"""The synthetic invoice generator: exact, deterministic COPY text with the real data's kinds of dirt."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re

import pandas as pd
import pytest

from segments.settings import SOURCE_COLUMNS
from segments.tools.generate import ARCHETYPE_MIXES, generate_copy_chunks, planted_archetypes

START = dt.date(2010, 12, 1)
END = dt.date(2011, 12, 10)
NON_PRODUCT_CODES = {"POST", "DOT", "M", "D", "BANK CHARGES", "AMAZONFEE", "CRUK", "C2", "PADS", "S"}
SAMPLE_LINES = 200_000
SAMPLE_CUSTOMERS = 1_600  # the real data's ratio: ~125 lines per customer


def text_of(lines: int, customers: int = 500, seed: int = 0, chunk_lines: int = 200_000, **dates: dt.date) -> str:
    return "".join(
        generate_copy_chunks(lines, customers, dates.get("start", START), dates.get("end", END), seed, chunk_lines)
    )


def parse(text: str) -> pd.DataFrame:
    return pd.read_csv(
        io.StringIO(text),
        sep="\t",
        names=list(SOURCE_COLUMNS),
        na_values="\\N",
        keep_default_na=False,
        quoting=csv.QUOTE_NONE,
        dtype={"invoice_no": str, "stock_code": str, "description": str, "country": str},
    )


@pytest.fixture(scope="module")
def sample_text() -> str:
    return text_of(SAMPLE_LINES, SAMPLE_CUSTOMERS, seed=7)


@pytest.fixture(scope="module")
def sample(sample_text: str) -> pd.DataFrame:
    frame = parse(sample_text)
    frame["invoice_date"] = pd.to_datetime(frame["invoice_date"], format="%Y-%m-%d %H:%M:%S")
    frame["cancelled"] = frame["invoice_no"].str.startswith("C")
    frame["number"] = frame["invoice_no"].str.removeprefix("C").astype(int)
    return frame


def purchases(sample: pd.DataFrame) -> pd.DataFrame:
    return sample[~sample["cancelled"] & sample["customer_id"].notna()]


def test_same_seed_gives_identical_output() -> None:
    assert text_of(30_000, seed=3) == text_of(30_000, seed=3)


def test_different_seed_gives_different_output() -> None:
    assert text_of(30_000, seed=3) != text_of(30_000, seed=4)


@pytest.mark.parametrize("lines", [1, 7, 99_999, 100_000, 100_001, 250_003])
def test_total_line_count_is_exact(lines: int) -> None:
    assert text_of(lines, chunk_lines=70_000).count("\n") == lines


def test_chunks_hold_whole_lines_and_never_exceed_chunk_lines() -> None:
    chunks = list(generate_copy_chunks(123_457, 800, START, END, seed=1, chunk_lines=10_000))
    assert [chunk.count("\n") for chunk in chunks] == [10_000] * 12 + [3_457]
    assert all(chunk.endswith("\n") for chunk in chunks)


def test_chunk_size_does_not_change_the_content() -> None:
    assert text_of(150_000, chunk_lines=999) == text_of(150_000, chunk_lines=200_000)


def test_generation_is_lazy_so_huge_requests_start_at_once() -> None:
    first = next(generate_copy_chunks(10**9, 1_000, START, END, chunk_lines=1_000))
    assert first.count("\n") == 1_000


def test_fields_need_no_copy_escaping(sample_text: str) -> None:
    for line in sample_text.splitlines():
        fields = line.split("\t")
        assert len(fields) == len(SOURCE_COLUMNS), line
        assert all("\\" not in field or field == "\\N" for field in fields), line
        assert "\r" not in line


def test_every_field_has_the_documented_format(sample: pd.DataFrame) -> None:
    assert sample["invoice_no"].str.fullmatch(r"C?\d{6}").all()
    products = sample["stock_code"].str.fullmatch(r"\d{5}[A-Za-z]?")
    assert (products | sample["stock_code"].isin(NON_PRODUCT_CODES)).all()
    assert pd.api.types.is_integer_dtype(sample["quantity"])
    assert (sample["unit_price"] >= 0).all()
    assert ((sample["unit_price"] * 100).round(6) % 1 == 0).all()
    assert sample["customer_id"].dropna().mod(1).eq(0).all()
    assert sample["country"].str.len().gt(0).all()


def test_prices_are_written_with_two_decimals(sample_text: str) -> None:
    prices = [line.split("\t")[5] for line in sample_text.splitlines()[:5_000]]
    assert all(re.fullmatch(r"\d+\.\d{2}", price) for price in prices)


def test_dates_are_ascending_within_range_and_shop_hours(sample: pd.DataFrame) -> None:
    dates = sample["invoice_date"]
    assert dates.is_monotonic_increasing
    assert dates.min() >= pd.Timestamp(START) and dates.max() < pd.Timestamp(END)
    assert dates.dt.hour.between(7, 20).all()


def test_dates_respect_a_short_range() -> None:
    frame = parse(text_of(20_000, start=dt.date(2011, 3, 7), end=dt.date(2011, 3, 9)))
    assert set(frame["invoice_date"].str[:10]) == {"2011-03-07", "2011-03-08"}


def test_each_invoice_has_one_customer_date_and_country(sample: pd.DataFrame) -> None:
    per_invoice = sample.groupby("invoice_no").agg(
        customers=("customer_id", lambda s: s.fillna(-1).nunique()),
        dates=("invoice_date", "nunique"),
        countries=("country", "nunique"),
    )
    assert (per_invoice == 1).all().all()


def test_about_a_quarter_of_lines_have_no_customer_on_large_guest_invoices(sample: pd.DataFrame) -> None:
    assert 0.18 < sample["customer_id"].isna().mean() < 0.32
    sizes = sample[~sample["cancelled"]].groupby("invoice_no").agg(
        lines=("stock_code", "size"), guest=("customer_id", lambda s: s.isna().all())
    )
    guest_orders = sizes[sizes["guest"] & (sizes["lines"] > 3)]
    assert guest_orders["lines"].median() > sizes.loc[~sizes["guest"], "lines"].median()


def test_cancellations_are_c_invoices_with_negative_quantities(sample: pd.DataFrame) -> None:
    cancelled = sample[sample["cancelled"]]
    assert 0.008 < len(cancelled) / len(sample) < 0.03
    assert (cancelled["quantity"] < 0).all()
    products = cancelled[cancelled["stock_code"].str.fullmatch(r"\d{5}[A-Za-z]?")]
    assert products["customer_id"].notna().all()


def test_cancellations_mostly_return_what_the_customer_bought_before(sample: pd.DataFrame) -> None:
    first_bought = purchases(sample).groupby(["customer_id", "stock_code"])["number"].min()
    returned = sample[sample["cancelled"] & ~sample["stock_code"].isin(NON_PRODUCT_CODES)]
    bought_at = first_bought.reindex(pd.MultiIndex.from_frame(returned[["customer_id", "stock_code"]]))
    assert (bought_at.to_numpy() < returned["number"].to_numpy()).mean() > 0.75


def test_non_product_codes_are_present_and_rare(sample: pd.DataFrame) -> None:
    special = sample[sample["stock_code"].isin(NON_PRODUCT_CODES)]
    assert {"POST", "DOT", "M", "D"} <= set(special["stock_code"])
    assert 0.002 < len(special) / len(sample) < 0.01
    discounts = sample[sample["stock_code"] == "D"]
    assert discounts["cancelled"].all() and (discounts["quantity"] < 0).all()


def test_zero_prices_exist_and_null_descriptions_only_on_them(sample: pd.DataFrame) -> None:
    assert 0.001 < (sample["unit_price"] == 0).mean() < 0.01
    missing = sample[sample["description"].isna()]
    assert len(missing) > 0
    assert (missing["unit_price"] == 0).all()


def test_some_lines_are_exact_duplicates_within_their_invoice(sample: pd.DataFrame) -> None:
    assert 0.004 < sample[list(SOURCE_COLUMNS)].duplicated().mean() < 0.025


def test_customer_activity_is_heavy_tailed(sample: pd.DataFrame) -> None:
    bought = purchases(sample)
    revenue = (bought["quantity"] * bought["unit_price"]).groupby(bought["customer_id"]).sum()
    top = revenue.nlargest(max(1, len(revenue) // 100))
    assert top.sum() / revenue.sum() > 0.15
    invoices = bought.groupby("customer_id")["invoice_no"].nunique()
    assert 0.2 < (invoices == 1).mean() < 0.55
    assert invoices.max() >= 20


def test_customers_come_from_the_pool_and_keep_their_home_country(sample: pd.DataFrame) -> None:
    known = sample[sample["customer_id"].notna()]
    assert known["customer_id"].nunique() <= SAMPLE_CUSTOMERS
    assert (known.groupby("customer_id")["country"].nunique() == 1).all()
    assert (sample["country"] == "United Kingdom").mean() > 0.8


def test_first_purchases_are_spread_over_the_range(sample: pd.DataFrame) -> None:
    first = purchases(sample).groupby("customer_id")["invoice_date"].min()
    by_month = first.dt.to_period("M").value_counts()
    assert len(by_month) >= 12
    assert by_month.max() / len(first) < 0.35


def test_sales_peak_in_november_and_skip_saturdays(sample: pd.DataFrame) -> None:
    by_month = sample["invoice_date"].dt.month.value_counts()
    assert by_month.idxmax() == 11
    assert by_month[11] > 1.8 * by_month[2]
    assert (sample["invoice_date"].dt.dayofweek == 5).mean() < 0.01


def test_invoices_have_many_lines_with_a_heavy_tail(sample: pd.DataFrame) -> None:
    sizes = purchases(sample).groupby("invoice_no").size()
    assert 10 <= sizes.median() <= 20
    assert sizes.quantile(0.99) > 4 * sizes.median()


def test_descriptions_keep_non_ascii_letters_and_trailing_spaces(sample: pd.DataFrame) -> None:
    descriptions = sample["description"].dropna()
    assert descriptions.map(lambda d: not d.isascii()).any()
    assert descriptions.str.endswith(" ").any()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"lines": 0}, "lines must be >= 1"),
        ({"lines": 2.5}, "lines must be an integer"),
        ({"customers": 0}, "customers must be >= 1"),
        ({"seed": -1}, "seed must be >= 0"),
        ({"chunk_lines": 0}, "chunk_lines must be >= 1"),
        ({"end": START}, "start must be before end"),
        ({"start": dt.datetime(2011, 1, 1)}, "start must be a datetime.date"),
        ({"end": "2011-12-10"}, "end must be a datetime.date"),
        ({"mix": "uniform"}, "mix must be one of balanced, rare_vips"),
    ],
)
def test_invalid_parameters_raise_value_error(change: dict[str, object], message: str) -> None:
    arguments: dict[str, object] = {"lines": 10, "customers": 5, "start": START, "end": END}
    arguments.update(change)
    with pytest.raises(ValueError, match=message):
        generate_copy_chunks(**arguments)  # type: ignore[arg-type]


# --- planted archetypes: customers of known kinds, for `segments evaluate` ----------------------

PLANTED_CUSTOMERS = 2_000


@pytest.fixture(scope="module", params=list(ARCHETYPE_MIXES))
def planted(request) -> tuple[str, pd.DataFrame, pd.Series]:
    """A year of a planted shop: its purchases by customer, and the truth."""
    mix = request.param
    frame = parse("".join(generate_copy_chunks(200_000, PLANTED_CUSTOMERS, START, END, seed=3, mix=mix)))
    frame["invoice_date"] = pd.to_datetime(frame["invoice_date"], format="%Y-%m-%d %H:%M:%S")
    bought = frame[~frame["invoice_no"].str.startswith("C") & frame["customer_id"].notna()].copy()
    bought["revenue"] = bought["quantity"] * bought["unit_price"]
    per_customer = bought.groupby(bought["customer_id"].astype(int).astype(str)).agg(
        invoices=("invoice_no", "nunique"), revenue=("revenue", "sum"),
        first=("invoice_date", "min"), last=("invoice_date", "max"))
    truth = pd.Series(dict(planted_archetypes(PLANTED_CUSTOMERS, 3, mix)), name="archetype")
    return mix, per_customer, truth


def test_the_truth_names_one_archetype_for_every_customer_who_buys(planted) -> None:
    mix, per_customer, truth = planted
    assert truth.index.is_unique and len(truth) == PLANTED_CUSTOMERS
    assert per_customer.index.isin(truth.index).all()
    shares = truth.value_counts(normalize=True)
    for archetype, share in ARCHETYPE_MIXES[mix].items():
        assert shares[archetype] == pytest.approx(share, abs=0.03), archetype


def test_planted_archetypes_behave_as_their_names_say(planted) -> None:
    _, per_customer, truth = planted
    by_archetype = per_customer.join(truth).groupby("archetype")
    median = by_archetype[["invoices", "revenue"]].median()
    last, first = by_archetype["last"].max(), by_archetype["first"].min()
    # Wholesale VIPs buy most and spend most; one-off buyers mostly buy once.
    assert median["revenue"].idxmax() == "wholesale_vip" and median["invoices"].idxmax() == "wholesale_vip"
    assert (per_customer.join(truth).query("archetype == 'one_off'")["invoices"] == 1).mean() > 0.9
    # Lapsed regulars stop buying around mid-range and buy again never; new customers only start late.
    span = pd.Timestamp(END) - pd.Timestamp(START)
    assert last["lapsed_regular"] < pd.Timestamp(START) + 0.75 * span
    assert first["new_promising"] > pd.Timestamp(START) + 0.6 * span
    assert median.loc["lapsed_regular", "invoices"] >= 2 and median.loc["steady_regular", "invoices"] >= 2


def test_the_planted_truth_is_the_same_whatever_the_number_of_lines() -> None:
    assert planted_archetypes(300, 5, "rare_vips") == planted_archetypes(300, 5, "rare_vips")
    assert planted_archetypes(300, 5, "rare_vips") != planted_archetypes(300, 6, "rare_vips")
