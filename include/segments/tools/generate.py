"""Deterministic synthetic retail invoice lines shaped like the UCI "Online Retail" data set.

The real data (541,909 lines, Dec 2010 - Dec 2011, a UK online gift wholesaler) is only used to
calibrate the rates below; the catalogue, customers and invoices are invented procedurally.
Output is PostgreSQL COPY text ready for ``COPY ... FROM STDIN``.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np


# --- Calibrated rates (measured on the real data; line shares are shares of all output lines) ---
GUEST_LINE_SHARE = 0.243  # web-shop invoices without customer; with adjustments/fees -> ~25% (real: 24.9%)
CANCEL_LINE_SHARE = 0.016  # "C" invoices returning earlier purchases (real: 1.7% incl. fee lines)
ADJUSTMENT_LINE_SHARE = 0.0026  # single-line zero-price stock corrections, no customer (real: 0.27%)
FEE_LINE_SHARES = {  # single-line "C" invoices carrying a non-product code (real counts / 541,909)
    "D": 1.4e-4,
    "M": 4.5e-4,
    "CRUK": 3e-5,
    "S": 1.2e-4,
    "AMAZONFEE": 6e-5,
    "BANK CHARGES": 7e-5,
}
FEE_CODES_WITH_CUSTOMER = ("D", "M", "CRUK")  # the others are booked without customer, as in the real data
POSTAGE_PROB_FOREIGN = 0.5  # non-UK customer invoices ending with a POST line (real: 1,256 POST lines)
POSTAGE_PROB_UK = 0.004
CARRIAGE_PROB_EIRE = 0.4  # Irish customer invoices ending with a C2 carriage line
DOTCOM_POSTAGE_PROB = 0.5  # multi-line guest invoices ending with a DOT line (real: 710 lines)
MANUAL_LINE_RATE = 5e-4  # "M" manual lines inside purchase invoices
PADS_LINE_RATE = 1e-5  # near-free "PADS" lines
FREE_ITEM_RATE = 4e-4  # zero-priced product lines inside purchase invoices
DUPLICATE_RATE = 0.013  # customer purchase lines repeating an earlier line of the invoice verbatim (real: 1.3%)
ABSURD_QUANTITY_RATE = 5e-6  # five-digit quantities (real: 3 lines, e.g. 80995)
CANCEL_UNREFERENCED_SHARE = 0.1  # cancelled stock codes not bought in the data (real: 11%)
CANCEL_FULL_QUANTITY_SHARE = 0.6  # cancellations returning the whole purchased quantity
CANCEL_REFERENCE_WINDOW = 400  # cancellations refer to one of the last N customer invoices (~ a few days)

# Invoice sizes: ceil(lognormal(median, sigma)), capped.
CUSTOMER_INVOICE_MEDIAN_LINES = 15.0  # real: median 15, p90 48, p99 111
CUSTOMER_INVOICE_SIGMA = 0.95
CUSTOMER_INVOICE_MAX_LINES = 600
GUEST_INVOICE_MEDIAN_LINES = 40.0  # guest (web) orders are large: real p75 145, p90 249
GUEST_INVOICE_SIGMA = 1.3
GUEST_INVOICE_MAX_LINES = 1200
GUEST_TINY_SHARE = 0.15  # guest orders of 1-3 lines
CANCEL_INVOICE_MEDIAN_LINES = 0.75  # ceil() makes ~60% single-line (real: median 1, mean 2.4)
CANCEL_INVOICE_SIGMA = 1.2

# Customers.
EXISTING_CUSTOMER_SHARE = 0.13  # already customers when the range starts (real: 885 of 4,372 first seen in month 1)
EXISTING_CUSTOMER_SPAN = 0.05  # ... and they show up within the first 5% of lines
ACTIVITY_SIGMA = 1.1  # lognormal spread of repeat-purchase propensity: heavy tail, ~1/3 one-off buyers
WHOLESALE_SHARE = 0.02  # customers ordering in bulk (large multiples of the pack size)
WHOLESALE_QTY_FACTOR = 8.0
QTY_SCALE = 0.65  # packs per line of a median customer
QTY_ACTIVITY_EXPONENT = 0.4  # quantity grows with activity (real: top 1% of customers = 32% of revenue)
LINE_QTY_SIGMA = 0.6  # spread of the number of packs per line
BULK_PACKS = 4  # from this many packs the cheaper bulk price applies
GUEST_QTY_SIGMA = 1.2  # guests buy single items: real median 1, p90 6
CUSTOMER_ID_START = 12346
INVOICE_NO_START = 100000  # six digits for the first 900,000 invoices (~19M lines), seven beyond

# Calendar: relative daily line volume.
MONTH_WEIGHTS = (0.45, 0.36, 0.42, 0.44, 0.46, 0.44, 0.47, 0.42, 0.60, 0.72, 1.00, 0.80)  # Jan..Dec, peak Nov
WEEKDAY_WEIGHTS = (1.00, 1.07, 0.99, 1.09, 0.86, 0.004, 0.68)  # Mon..Sun; the real shop never sold on Saturdays
CLOSED_DAY_FACTOR = 0.004  # 24 Dec - 3 Jan (real: closed)
HOUR_WEIGHTS = {  # share of lines by hour of day (real data)
    7: 0.0007, 8: 0.016, 9: 0.063, 10: 0.091, 11: 0.106, 12: 0.145, 13: 0.133,
    14: 0.125, 15: 0.143, 16: 0.101, 17: 0.053, 18: 0.015, 19: 0.007, 20: 0.0016,
}  # fmt: skip

CUSTOMER_COUNTRIES = {  # share of customers by home country (real data), activity multiplier
    "United Kingdom": (0.902, 1.0), "Germany": (0.0217, 1.3), "France": (0.0199, 1.2),
    "Spain": (0.0066, 1.0), "Belgium": (0.0055, 1.0), "Switzerland": (0.0046, 1.0),
    "Portugal": (0.0043, 1.0), "Italy": (0.0034, 1.0), "Finland": (0.0027, 1.0),
    "Austria": (0.0025, 1.0), "Norway": (0.0023, 1.2), "Netherlands": (0.0021, 4.0),
    "Australia": (0.0020, 2.0), "Denmark": (0.0020, 1.0), "Channel Islands": (0.0020, 1.0),
    "Cyprus": (0.0018, 1.0), "Sweden": (0.0018, 1.0), "Japan": (0.0018, 1.0),
    "Poland": (0.0014, 1.0), "EIRE": (0.0012, 8.0), "USA": (0.0012, 1.0), "Canada": (0.0009, 1.0),
    "Unspecified": (0.0009, 1.0), "Israel": (0.0009, 1.0), "Greece": (0.0009, 1.0),
    "Singapore": (0.0005, 3.0), "Iceland": (0.0005, 1.0), "Malta": (0.0005, 1.0),
    "United Arab Emirates": (0.0005, 1.0), "Lithuania": (0.0005, 1.0), "Czech Republic": (0.0005, 1.0),
    "European Community": (0.0005, 1.0), "RSA": (0.0005, 1.0), "Brazil": (0.0005, 1.0),
    "Lebanon": (0.0005, 1.0), "Bahrain": (0.0005, 1.0), "Saudi Arabia": (0.0005, 1.0),
}  # fmt: skip
GUEST_COUNTRIES = {"United Kingdom": 0.985, "EIRE": 0.005, "Unspecified": 0.004, "Hong Kong": 0.003, "France": 0.003}

@dataclass(frozen=True)
class Archetype:
    """A kind of customer planted in the synthetic data, with the segment names that describe it.

    Timeline positions are shares of the generated range: a customer first buys at a uniform
    point of `arrival`, and stops buying at a uniform point of `departure` (never when None).
    Within an archetype, activity (the relative rate of repeat orders) and basket size are
    lognormal around these medians, with spreads wide enough that archetypes overlap.
    """

    expected_names: tuple[str, ...]
    arrival: tuple[float, float]
    departure: tuple[float, float] | None
    activity_median: float
    basket_factor: float


ARCHETYPE_SPREAD = 0.4  # lognormal sigma of activity and basket size within an archetype
ARCHETYPES = {
    "wholesale_vip": Archetype(("VIP Premium",), (0.0, 0.3), None, 10.0, 5.0),
    "steady_regular": Archetype(("Core Regular", "Loyal Regular"), (0.0, 0.4), None, 4.0, 1.0),
    # One-off buyers who came long enough ago that not returning is observable.
    "one_off": Archetype(("Entry-Level",), (0.0, 0.8), None, 0.01, 0.6),
    "lapsed_regular": Archetype(("At-Risk Loyal", "Lapsing Occasional"), (0.0, 0.2), (0.3, 0.5), 15.0, 1.6),
    "new_promising": Archetype(("New Promising",), (0.82, 0.94), None, 30.0, 1.3),
}
# Shares of customers per archetype: the planted benchmark's mixes.
ARCHETYPE_MIXES = {
    "balanced": {"wholesale_vip": 0.12, "steady_regular": 0.25, "one_off": 0.33, "lapsed_regular": 0.15,
                 "new_promising": 0.15},
    "rare_vips": {"wholesale_vip": 0.05, "steady_regular": 0.25, "one_off": 0.45, "lapsed_regular": 0.15,
                  "new_promising": 0.10},
}


# Non-product codes: description, price median (GBP), price lognormal sigma.
SPECIAL_CODES = {
    "POST": ("POSTAGE", 18.0, 0.0),  # price drawn from POSTAGE_PRICES instead
    "DOT": ("WEB ORDER POSTAGE", 150.0, 0.8),
    "M": ("Manual", 6.0, 2.0),
    "D": ("Discount", 23.0, 1.3),
    "BANK CHARGES": ("Bank charges", 40.0, 1.0),
    "AMAZONFEE": ("Amazon fee", 5000.0, 0.8),
    "CRUK": ("Charity commission", 450.0, 0.5),
    "C2": ("CARRIAGE", 50.0, 0.0),
    "PADS": ("CUSHION FILLER PADS", 0.01, 0.0),
    "S": ("Samples", 20.0, 1.0),
}
POSTAGE_PRICES = {1800: 0.62, 1500: 0.13, 4000: 0.13, 2800: 0.12}  # cents -> share

# Catalogue.
PRODUCT_FAMILIES = 3400  # real: ~4,070 stock codes including colour variants
VARIANT_FAMILY_SHARE = 0.035  # families sold in several colours (codes with letter suffix)
LOWERCASE_SUFFIX_SHARE = 0.04  # variant codes typed with a lowercase suffix, as in the real data
TRAILING_SPACE_SHARE = 0.2  # descriptions ending with a space (real: 21% of lines)
RENAMED_PRODUCT_SHARE = 0.08  # stock codes whose description changes once (real: 16% have several)
POPULARITY_SIGMA = 1.4  # lognormal product popularity (real: top code 0.4% of lines, median 0.01%)
PRICE_MEDIAN = 1.9  # GBP, lognormal product list price
PRICE_SIGMA = 0.85
PREMIUM_SHARE = 0.005  # furniture-like items around GBP 40
ACCENTED_SHARE = 0.03  # descriptions with non-ASCII letters, which loaders must keep intact
ADJUSTMENT_MEDIAN_QTY = 8.0
ADJUSTMENT_NEGATIVE_SHARE = 0.6  # real: 59% of NULL-description lines are negative
ADJUSTMENT_NOTE_SHARE = 0.25  # adjustments with a free-text note instead of NULL description
ADJUSTMENT_NOTES = ("damaged", "check", "?", "stock count", "water damage", "lost in warehouse", "mislabelled", "found")

_NEVER = np.iinfo(np.int64).max  # the departure of a customer who never leaves (a line position)
_BLOCK_LINES = 100_000  # generation unit; fixed so the output does not depend on chunk_lines
_RESAMPLE_ROUNDS = 3  # re-draws of a product repeated by chance inside one invoice

_COLOURS = (
    "RED", "BLUE", "PINK", "GREEN", "IVORY", "CREAM", "WHITE", "BLACK", "YELLOW", "ORANGE", "PURPLE",
    "TEAL", "LILAC", "MINT", "CORAL", "SILVER", "GOLD", "NAVY", "SAGE", "MUSTARD", "DUCK EGG",
)  # fmt: skip
_ADJECTIVES = (
    "VINTAGE", "RUSTIC", "NORDIC", "RETRO", "HAND PAINTED", "ENAMEL", "WOODEN", "GLASS", "CERAMIC", "TIN",
    "PAPER", "FELT", "KNITTED", "WOVEN", "GLITTER", "MINI", "JUMBO", "DOUBLE", "ANTIQUE", "FRENCH",
    "ZINC", "BAMBOO", "LACE", "GINGERBREAD", "PARISIENNE",
)  # fmt: skip
_MOTIFS = (
    "POLKADOT", "STRIPE", "GINGHAM", "FLORAL", "PAISLEY", "HEART", "STAR", "BIRD", "OWL", "FOX", "HEDGEHOG",
    "BUTTERFLY", "ROSE", "DAISY", "LEMON", "CHERRY", "SNOWFLAKE", "REINDEER", "ANCHOR", "DINOSAUR",
    "CIRCUS", "ALPHABET", "MEADOW", "HONEYCOMB", "LIGHTHOUSE", "ROBOT", "TEAPOT", "BICYCLE", "CACTUS",
)  # fmt: skip
_OBJECTS = (
    "MUG", "TEACUP AND SAUCER", "CAKE TIN", "LUNCH BOX", "JAM JAR", "T-LIGHT HOLDER", "LANTERN", "DOORSTOP",
    "CUSHION COVER", "TEA TOWEL", "APRON", "SHOPPING BAG", "NOTEBOOK", "GIFT WRAP", "BUNTING", "PHOTO FRAME",
    "WALL CLOCK", "COAT HANGER", "HOT WATER BOTTLE", "MONEY BOX", "PLANTER", "SOAP DISH", "CANDLE", "BOWL",
    "PLATE", "TRINKET BOX", "PURSE", "KEYRING", "FRIDGE MAGNET", "CHOPPING BOARD", "STORAGE JAR", "PARASOL",
    "PICNIC BASKET", "BIRD FEEDER", "DOORMAT", "WALL SIGN", "HAIR CLIP", "NAPKINS", "PARTY CUPS", "CAKE CASES",
    "STICKER SHEET", "CHALKBOARD", "GARLAND", "WIND CHIME", "DRAWER KNOB", "SNOW GLOBE", "MIRROR", "WASHBAG",
)  # fmt: skip
_ACCENTED_MOTIFS = ("CAFÉ", "NOËL", "CRÈME BRÛLÉE", "PIÑATA", "SMÖRGÅSBORD", "FÊTE")
_SET_SIZES = (2, 3, 4, 6, 10, 12, 20)
_PRICE_ENDINGS = (0, 10, 19, 25, 29, 39, 42, 45, 55, 65, 72, 79, 85, 95)
_PACK_CHEAP = ((12, 0.35), (24, 0.2), (6, 0.15), (10, 0.1), (25, 0.1), (1, 0.1))  # items under GBP 1
_PACK_REGULAR = ((1, 0.25), (2, 0.12), (3, 0.08), (4, 0.12), (6, 0.2), (8, 0.05), (12, 0.18))

# Invoice kinds.
_CUSTOMER, _GUEST, _CANCEL, _ADJUST = 0, 1, 2, 3
_FEE_KINDS = {code: 4 + i for i, code in enumerate(FEE_LINE_SHARES)}


def generate_copy_chunks(
    lines: int,
    customers: int,
    start: datetime.date,
    end: datetime.date,
    seed: int = 0,
    chunk_lines: int = 200_000,
    mix: str | None = None,
) -> Iterator[str]:
    """Yield the synthetic invoice lines as PostgreSQL COPY text-format chunks (tab separated, \\N for NULL, newline terminated), in the column order of settings.SOURCE_COLUMNS, invoice_date ascending; exactly `lines` lines in total, dates in [start, end) .

    With `mix` (a key of ARCHETYPE_MIXES), customers are drawn from the planted archetypes, whose
    truth `planted_archetypes` returns."""
    _validate(lines, customers, start, end, seed, chunk_lines, mix)
    # Validation happens eagerly; the (lazy) generation starts on the first next().
    return _chunks(int(lines), int(customers), start, end, int(seed), int(chunk_lines), mix)


def planted_archetypes(customers: int, seed: int, mix: str) -> list[tuple[str, str]]:
    """The truth of a generation with `mix`: (customer_id, archetype) for every customer it can draw
    (the archetypes do not depend on the number of lines or the dates)."""
    _validate(1, customers, datetime.date(2000, 1, 1), datetime.date(2000, 1, 2), seed, 1, mix)
    planted = _Customers(np.random.default_rng(_seeds(seed)[1]), int(customers), 1, mix)
    return [(str(customer_id), planted.archetype_names[archetype])
            for customer_id, archetype in zip(planted.ids.tolist(), planted.archetype.tolist())]


def day_shares(start: datetime.date, end: datetime.date) -> np.ndarray:
    """The expected share of the generated lines on each day of [start, end), from the generator's
    own seasonality calendar: how many lines to ask for so that a given day gets about so many."""
    _validate(1, 1, start, end, 0, 1)
    weights = _Timeline(start, end, 1).day_weight
    return weights / weights.sum()


def _validate(
    lines: object, customers: object, start: object, end: object, seed: object, chunk_lines: object,
    mix: object = None,
) -> None:
    for name, value, minimum in (("lines", lines, 1), ("customers", customers, 1), ("seed", seed, 0),
                                 ("chunk_lines", chunk_lines, 1)):  # fmt: skip
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise ValueError(f"{name} must be an integer, got {value!r}")
        if value < minimum:
            raise ValueError(f"{name} must be >= {minimum}, got {value}")
    for name, value in (("start", start), ("end", end)):
        # datetime is a date subclass, but a time of day would be silently dropped.
        if not isinstance(value, datetime.date) or isinstance(value, datetime.datetime):
            raise ValueError(f"{name} must be a datetime.date, got {value!r}")
    if not start < end:  # type: ignore[operator]
        raise ValueError(f"start must be before end (the range is [start, end)), got {start} .. {end}")
    if mix is not None and mix not in ARCHETYPE_MIXES:
        raise ValueError(f"mix must be one of {', '.join(ARCHETYPE_MIXES)}, got {mix!r}")


def _chunks(
    lines: int, customers: int, start: datetime.date, end: datetime.date, seed: int, chunk_lines: int, mix: str | None
) -> Iterator[str]:
    generator = _Generator(lines, customers, start, end, seed, mix)
    pending: list[str] = []
    pending_lines = 0
    for block_start in range(0, lines, _BLOCK_LINES):
        block_lines = min(_BLOCK_LINES, lines - block_start)
        pieces = generator.block(block_start, block_lines)
        taken = 0
        while taken < block_lines:
            take = min(chunk_lines - pending_lines, block_lines - taken)
            pending.append("".join(pieces[6 * taken : 6 * (taken + take)]))
            pending_lines += take
            taken += take
            if pending_lines == chunk_lines:
                yield "".join(pending)
                pending, pending_lines = [], 0
    if pending:
        yield "".join(pending)


def _cdf(weights: np.ndarray) -> np.ndarray:
    cdf = np.cumsum(weights, dtype=np.float64)
    return cdf / cdf[-1]


def _draw(cdf: np.ndarray, u: np.ndarray) -> np.ndarray:
    # min() guards against u landing on the last float boundary after normalisation.
    return np.minimum(np.searchsorted(cdf, u, side="right"), len(cdf) - 1)


def _ceil_lognormal(rng: np.random.Generator, median: float, sigma: float, cap: int, size: int) -> np.ndarray:
    return np.minimum(np.ceil(rng.lognormal(math.log(median), sigma, size)), cap).astype(np.int64)


def _mean_ceil_lognormal(median: float, sigma: float, cap: int) -> float:
    # E[min(ceil(X), cap)] = sum_{k=0}^{cap-1} P(X > k); used to turn line shares into invoice odds.
    total = 1.0
    for k in range(1, cap):
        tail = 0.5 * math.erfc((math.log(k) - math.log(median)) / (sigma * math.sqrt(2.0)))
        total += tail
        if tail < 1e-12:
            break
    return total


class _Timeline:
    """Maps a line position in [0, lines) to a shop date and minute, following the seasonality weights."""

    def __init__(self, start: datetime.date, end: datetime.date, lines: int) -> None:
        self.days = np.arange(np.datetime64(start, "D"), np.datetime64(end, "D"))
        months = self.days.astype("datetime64[M]")
        month = months.astype(np.int64) % 12
        day_of_month = (self.days - months.astype("datetime64[D]")).astype(np.int64) + 1
        weekday = (self.days.astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday
        weights = np.asarray(MONTH_WEIGHTS)[month] * np.asarray(WEEKDAY_WEIGHTS)[weekday]
        closed = ((month == 11) & (day_of_month >= 24)) | ((month == 0) & (day_of_month <= 3))
        weights[closed] *= CLOSED_DAY_FACTOR
        self.day_end = np.cumsum(weights)
        self.day_start = self.day_end - weights
        self.day_weight = weights
        self.scale = self.day_end[-1] / lines
        hourly = np.zeros(24)
        for hour, weight in HOUR_WEIGHTS.items():
            hourly[hour] = weight
        self.minute_cdf = _cdf(np.repeat(hourly, 60))
        self.minute_text = [f"{m // 60:02d}:{m % 60:02d}:00\t" for m in range(1440)]

    def locate(self, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Day index and minute of day for ascending line positions (monotone, so times ascend too)."""
        x = positions * self.scale
        day = np.minimum(np.searchsorted(self.day_end, x, side="right"), len(self.days) - 1)
        fraction = np.clip((x - self.day_start[day]) / self.day_weight[day], 0.0, np.nextafter(1.0, 0.0))
        return day, _draw(self.minute_cdf, fraction)


class _Catalogue:
    """Procedural products: stock codes, descriptions, prices, pack sizes, popularity."""

    def __init__(self, rng: np.random.Generator, lines: int) -> None:
        codes, descriptions = self._names(rng)
        n = len(codes)
        self.size = n
        self.popularity_cdf = _cdf(rng.lognormal(0.0, POPULARITY_SIGMA, n))
        cents = rng.lognormal(math.log(PRICE_MEDIAN * 100), PRICE_SIGMA, n)
        premium = rng.random(n) < PREMIUM_SHARE
        cents[premium] = rng.lognormal(math.log(4000), 0.6, int(premium.sum()))
        self.base_cents = _snap_price(cents)
        self.bulk_cents = np.maximum(1, _snap_price(self.base_cents * 0.85, down=True))
        # The web shop charges more than the wholesale list price, in odd amounts.
        self.guest_cents = np.rint(self.base_cents * rng.uniform(1.15, 1.35, n)).astype(np.int64)
        cheap = self.base_cents < 100
        self.pack = np.where(cheap, _choose(rng, _PACK_CHEAP, n), _choose(rng, _PACK_REGULAR, n))
        renamed = rng.random(n) < RENAMED_PRODUCT_SHARE
        # Line position from which the new description is used.
        self.rename_at = np.where(renamed, (rng.random(n) * lines).astype(np.int64), np.iinfo(np.int64).max)
        trailing = rng.random(n) < TRAILING_SPACE_SHARE
        main = [d + " " if t else d for d, t in zip(descriptions, trailing.tolist())]
        alternative = [_rename(d) for d in main]
        special = [f"{code}\t{description}\t" for code, (description, _, _) in SPECIAL_CODES.items()]
        self.special_base = 3 * n
        # Entries hold "stock_code\tdescription\t": main names, renamed names, NULL descriptions, fee codes.
        self.entries = np.array(
            [f"{c}\t{d}\t" for c, d in zip(codes, main)]
            + [f"{c}\t{d}\t" for c, d in zip(codes, alternative)]
            + [f"{c}\t\\N\t" for c in codes]
            + special,
            dtype=object,
        )
        self.codes = codes
        names = list(SPECIAL_CODES)
        self.special_index = {code: i for i, code in enumerate(names)}
        self.special_median = np.array([SPECIAL_CODES[c][1] * 100 for c in names])
        self.special_sigma = np.array([SPECIAL_CODES[c][2] for c in names])

    @staticmethod
    def _names(rng: np.random.Generator) -> tuple[list[str], list[str]]:
        pool = np.concatenate([
            np.arange(20000, 24000), np.arange(84000, 86000), np.arange(35000, 49000, 3),
            np.arange(71000, 91000, 7), np.arange(10000, 17000, 11),
        ])  # fmt: skip
        pool_weights = np.concatenate([
            np.full(4000, 9.0), np.full(2000, 3.0), np.full(len(range(35000, 49000, 3)), 0.5),
            np.full(len(range(71000, 91000, 7)), 0.6), np.full(len(range(10000, 17000, 11)), 0.3),
        ])  # fmt: skip
        bases = np.sort(rng.choice(pool, PRODUCT_FAMILIES, replace=False, p=pool_weights / pool_weights.sum()))
        template = rng.integers(0, 5, PRODUCT_FAMILIES)
        words = [rng.integers(0, len(w), PRODUCT_FAMILIES) for w in (_COLOURS, _ADJECTIVES, _MOTIFS, _OBJECTS)]
        set_size = rng.integers(0, len(_SET_SIZES), PRODUCT_FAMILIES)
        with_variants = rng.random(PRODUCT_FAMILIES) < VARIANT_FAMILY_SHARE
        variants = np.where(with_variants, rng.integers(2, 7, PRODUCT_FAMILIES), 1)
        lowercase = rng.random(PRODUCT_FAMILIES) < LOWERCASE_SUFFIX_SHARE
        colour_shift = rng.integers(1, len(_COLOURS), PRODUCT_FAMILIES)
        with_accent = rng.random(PRODUCT_FAMILIES) < ACCENTED_SHARE
        accented = np.where(with_accent, rng.integers(0, len(_ACCENTED_MOTIFS), PRODUCT_FAMILIES), -1)
        codes: list[str] = []
        descriptions: list[str] = []
        for f in range(PRODUCT_FAMILIES):
            for v in range(int(variants[f])):
                colour = _COLOURS[(words[0][f] + v * colour_shift[f]) % len(_COLOURS)]
                adjective, obj = _ADJECTIVES[words[1][f]], _OBJECTS[words[3][f]]
                motif = _ACCENTED_MOTIFS[accented[f]] if accented[f] >= 0 else _MOTIFS[words[2][f]]
                descriptions.append((
                    f"{colour} {motif} {obj}",
                    f"{adjective} {motif} {obj}" if variants[f] == 1 else f"{adjective} {colour} {obj}",
                    f"SET OF {_SET_SIZES[set_size[f]]} {colour} {motif} {obj}",
                    f"{adjective} {colour} {motif} {obj}",
                    f"{motif} DESIGN {colour} {obj}",
                )[template[f]])
                suffix = "" if variants[f] == 1 else "ABCDEFGHJKLMNPS"[v]
                codes.append(f"{bases[f]}{suffix.lower() if lowercase[f] else suffix}")
        return codes, descriptions


def _rename(description: str) -> str:
    # Typical catalogue edits: abbreviations, symbols, reworded sets.
    for old, new in (("SET OF ", "SET/"), (" AND ", " & "), ("DESIGN ", ""), ("HAND PAINTED", "HANDPAINTED")):
        if old in description:
            return description.replace(old, new, 1)
    return description.rstrip() + " ASSTD"


def _snap_price(cents: np.ndarray, down: bool = False) -> np.ndarray:
    # Retail list prices end in a few familiar ways (x.25, x.95, ...).
    ladder = np.array(sorted({p * 100 + e for p in range(0, 200) for e in _PRICE_ENDINGS if p * 100 + e > 0}))
    cents = np.asarray(cents, dtype=np.float64)
    above = np.minimum(np.searchsorted(ladder, cents), len(ladder) - 1)
    below = np.maximum(above - 1, 0)
    if down:
        snapped = np.where(ladder[above] <= cents, ladder[above], ladder[below])
    else:
        snapped = np.where(np.abs(ladder[above] - cents) < np.abs(cents - ladder[below]), ladder[above], ladder[below])
    # Expensive items beyond the ladder keep whole pounds.
    return np.where(cents > ladder[-1], np.rint(cents / 100) * 100, snapped).astype(np.int64)


def _choose(rng: np.random.Generator, table: tuple[tuple[int, float], ...], size: int) -> np.ndarray:
    values = np.array([v for v, _ in table], dtype=np.int64)
    return values[_draw(_cdf(np.array([p for _, p in table])), rng.random(size))]


class _Customers:
    """Per-customer state, in order of first activity (arrival)."""

    def __init__(self, rng: np.random.Generator, count: int, lines: int, mix: str | None = None) -> None:
        names = list(CUSTOMER_COUNTRIES)
        shares = np.array([CUSTOMER_COUNTRIES[c][0] for c in names])
        multipliers = np.array([CUSTOMER_COUNTRIES[c][1] for c in names])
        self.country_names = names
        self.archetype_names = list(ARCHETYPE_MIXES[mix]) if mix else []
        if mix:
            arrival, departure, activity, basket, archetype = self._planted(rng, count, ARCHETYPE_MIXES[mix])
        else:
            existing = round(count * EXISTING_CUSTOMER_SHARE)
            arrival = np.concatenate([rng.random(existing) * EXISTING_CUSTOMER_SPAN, rng.random(count - existing)])
        order = np.argsort(arrival, kind="stable")
        self.arrival = (arrival[order] * lines).astype(np.int64)
        self.arrival[0] = 0  # someone must be able to buy on the first line
        self.country = _draw(_cdf(shares), rng.random(count)).astype(np.uint8)
        if mix:
            leaving = departure[order]
            stays = np.isinf(leaving)
            self.departure = np.full(count, _NEVER, dtype=np.int64)
            self.departure[~stays] = (leaving[~stays] * lines).astype(np.int64)
            self.archetype = archetype[order]
            activity = activity[order] * multipliers[self.country]
            scale = QTY_SCALE * basket[order]
        else:
            activity = rng.lognormal(0.0, ACTIVITY_SIGMA, count) * multipliers[self.country]
            wholesale = rng.random(count) < WHOLESALE_SHARE
            # Frequent buyers also order larger quantities: that is what concentrates revenue.
            scale = QTY_SCALE * activity**QTY_ACTIVITY_EXPONENT * rng.lognormal(0.0, 0.5, count)
            scale = np.where(wholesale, WHOLESALE_QTY_FACTOR * scale, scale)
        self.activity_cdf = np.cumsum(activity)
        # Who can still be drawn once departed customers are: everyone who never departs.
        self.staying_cdf = np.cumsum(np.where(stays, activity, 0.0)) if mix else None
        self.qty_scale = scale.astype(np.float32)
        self.ids = (CUSTOMER_ID_START + rng.permutation(count)).astype(np.int64)

    @staticmethod
    def _planted(
        rng: np.random.Generator, count: int, mix: dict[str, float]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Arrival and departure (timeline shares), activity, basket factor and archetype per customer."""
        archetypes = [ARCHETYPES[name] for name in mix]
        archetype = _draw(_cdf(np.array(list(mix.values()))), rng.random(count))
        low, high = (np.array([a.arrival[i] for a in archetypes])[archetype] for i in (0, 1))
        arrival = low + rng.random(count) * (high - low)
        leaving = np.array([a.departure is not None for a in archetypes])[archetype]
        span = np.array([a.departure or (1.0, 1.0) for a in archetypes])[archetype]
        departure = np.where(leaving, span[:, 0] + rng.random(count) * (span[:, 1] - span[:, 0]), np.inf)
        activity = np.array([a.activity_median for a in archetypes])[archetype]
        basket = np.array([a.basket_factor for a in archetypes])[archetype]
        activity = activity * rng.lognormal(0.0, ARCHETYPE_SPREAD, count)
        basket = basket * rng.lognormal(0.0, ARCHETYPE_SPREAD, count)
        return arrival, departure, activity, basket, archetype

    def repeat_buyers(self, rng: np.random.Generator, positions: np.ndarray) -> np.ndarray:
        """Customers already arrived at each position, drawn proportionally to their activity."""
        eligible = np.maximum(np.searchsorted(self.arrival, positions, side="right"), 1)
        x = rng.random(len(positions)) * self.activity_cdf[eligible - 1]
        buyers = np.minimum(np.searchsorted(self.activity_cdf, x, side="right"), eligible - 1)
        if self.staying_cdf is None:
            return buyers
        # A customer who has departed buys no more: redraw a few times, then among those who stay.
        for _ in range(_RESAMPLE_ROUNDS):
            gone = np.flatnonzero(self.departure[buyers] <= positions)
            if not len(gone):
                return buyers
            x = rng.random(len(gone)) * self.activity_cdf[eligible[gone] - 1]
            buyers[gone] = np.minimum(np.searchsorted(self.activity_cdf, x, side="right"), eligible[gone] - 1)
        gone = np.flatnonzero(self.departure[buyers] <= positions)
        staying = self.staying_cdf[eligible[gone] - 1]
        x = rng.random(len(gone)) * staying
        buyers[gone] = np.where(staying > 0, np.minimum(
            np.searchsorted(self.staying_cdf, x, side="right"), eligible[gone] - 1), buyers[gone])
        return buyers


def _seeds(seed: int) -> list[np.random.SeedSequence]:
    """Independent streams for the catalogue, the customers and the lines."""
    return np.random.SeedSequence(seed).spawn(3)


class _Generator:
    """Stateful block generator: invoice numbers and customer arrivals carry over between blocks."""

    def __init__(
        self, lines: int, customers: int, start: datetime.date, end: datetime.date, seed: int, mix: str | None
    ) -> None:
        catalogue_seed, customer_seed, line_seed = _seeds(seed)
        self.rng = np.random.default_rng(line_seed)
        self.timeline = _Timeline(start, end, lines)
        self.catalogue = _Catalogue(np.random.default_rng(catalogue_seed), lines)
        self.customers = _Customers(np.random.default_rng(customer_seed), customers, lines, mix)
        self.next_arrival = 0
        self.next_invoice = INVOICE_NO_START
        countries = self.customers.country_names + [c for c in GUEST_COUNTRIES if c not in CUSTOMER_COUNTRIES]
        self.country_tail = np.array([f"\t{c}\n" for c in countries], dtype=object)
        self.guest_country = np.array([countries.index(c) for c in GUEST_COUNTRIES])
        self.guest_country_cdf = _cdf(np.array(list(GUEST_COUNTRIES.values())))
        self.uk, self.eire = countries.index("United Kingdom"), countries.index("EIRE")

        customer_mean = _mean_ceil_lognormal(
            CUSTOMER_INVOICE_MEDIAN_LINES, CUSTOMER_INVOICE_SIGMA, CUSTOMER_INVOICE_MAX_LINES
        )
        guest_mean = GUEST_TINY_SHARE * 2 + (1 - GUEST_TINY_SHARE) * _mean_ceil_lognormal(
            GUEST_INVOICE_MEDIAN_LINES, GUEST_INVOICE_SIGMA, GUEST_INVOICE_MAX_LINES
        )
        cancel_mean = _mean_ceil_lognormal(
            CANCEL_INVOICE_MEDIAN_LINES, CANCEL_INVOICE_SIGMA, CUSTOMER_INVOICE_MAX_LINES
        )
        customer_share = 1.0 - GUEST_LINE_SHARE - CANCEL_LINE_SHARE - ADJUSTMENT_LINE_SHARE
        customer_share -= sum(FEE_LINE_SHARES.values())
        # Invoice odds are line shares divided by the mean invoice size of each kind.
        odds = [customer_share / customer_mean, GUEST_LINE_SHARE / guest_mean, CANCEL_LINE_SHARE / cancel_mean]
        odds += [ADJUSTMENT_LINE_SHARE, *FEE_LINE_SHARES.values()]
        self.kind_cdf = _cdf(np.array(odds))
        self.mean_invoice_lines = 1.0 / sum(odds)
        self.needs_reference = np.zeros(len(odds), dtype=bool)
        self.needs_reference[[_CANCEL, *(_FEE_KINDS[c] for c in FEE_CODES_WITH_CUSTOMER)]] = True
        self.is_cancellation = np.zeros(len(odds), dtype=bool)
        self.is_cancellation[[_CANCEL, *_FEE_KINDS.values()]] = True
        self.fee_special = np.full(len(odds), -1)
        for code, kind in _FEE_KINDS.items():
            self.fee_special[kind] = self.catalogue.special_index[code]

    def block(self, first_line: int, n: int) -> list[str]:
        """COPY text pieces (six per line) for lines [first_line, first_line + n)."""
        kinds, sizes, reference = self._invoices(n)
        starts = np.cumsum(sizes) - sizes
        positions = first_line + starts
        customer = self._customers(kinds, reference, positions, first_line + n)
        country = self._countries(kinds, customer)

        invoice = np.repeat(np.arange(len(kinds)), sizes)
        line_kind = kinds[invoice]
        first = starts[invoice]
        product, entry, quantity, cents = self._purchases(first_line, invoice, line_kind, customer)
        self._non_products(kinds, sizes, starts, country, line_kind, entry, quantity, cents)
        source = self._duplicate_sources(line_kind, first)
        entry, quantity, cents = entry[source], quantity[source], cents[source]
        self._cancellations(line_kind, invoice, first, sizes, starts, reference, product, entry, quantity, cents)
        notes = self._adjustments(line_kind, product, entry, quantity, cents)
        return self._render(kinds, customer, country, positions, invoice, entry, quantity, cents, notes)

    def _invoices(self, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Invoice kinds, sizes summing to exactly n, and the referenced customer invoice (-1 if none)."""
        rng = self.rng
        parts: list[list[np.ndarray]] = []
        while True:
            k = int(n / self.mean_invoice_lines * 1.1) + 32  # usually one round is enough
            kind = _draw(self.kind_cdf, rng.random(k))
            cap = CUSTOMER_INVOICE_MAX_LINES
            own = _ceil_lognormal(rng, CUSTOMER_INVOICE_MEDIAN_LINES, CUSTOMER_INVOICE_SIGMA, cap, k)
            web = _ceil_lognormal(rng, GUEST_INVOICE_MEDIAN_LINES, GUEST_INVOICE_SIGMA, GUEST_INVOICE_MAX_LINES, k)
            web = np.where(rng.random(k) < GUEST_TINY_SHARE, rng.integers(1, 4, k), web)
            returned = _ceil_lognormal(rng, CANCEL_INVOICE_MEDIAN_LINES, CANCEL_INVOICE_SIGMA, cap, k)
            parts.append([kind, own, web, returned, rng.random(k)])
            kinds, customer_size, guest_size, cancel_size, reference_u = (np.concatenate(p) for p in zip(*parts))
            # A cancellation needs an earlier customer invoice in the block to refer to.
            kinds[self.needs_reference[kinds] & (np.cumsum(kinds == _CUSTOMER) == 0)] = _CUSTOMER
            is_customer = kinds == _CUSTOMER
            earlier = np.cumsum(is_customer) - is_customer
            referring = np.flatnonzero(self.needs_reference[kinds])
            window = np.minimum(earlier[referring], CANCEL_REFERENCE_WINDOW)
            rank = earlier[referring] - 1 - (reference_u[referring] * window).astype(np.int64)
            reference = np.full(len(kinds), -1, dtype=np.int64)
            reference[referring] = np.flatnonzero(is_customer)[rank]
            sizes = np.ones(len(kinds), dtype=np.int64)
            sizes[is_customer] = customer_size[is_customer]
            guest = kinds == _GUEST
            sizes[guest] = guest_size[guest]
            cancel = np.flatnonzero(kinds == _CANCEL)
            sizes[cancel] = np.minimum(cancel_size[cancel], customer_size[reference[cancel]])
            ends = np.cumsum(sizes)
            if ends[-1] >= n:
                break
        m = int(np.searchsorted(ends, n)) + 1
        sizes = sizes[:m]
        sizes[-1] -= ends[m - 1] - n  # the block's last invoice is cut to make the total exact
        return kinds[:m], sizes, reference[:m]

    def _customers(self, kinds: np.ndarray, reference: np.ndarray, positions: np.ndarray, end: int) -> np.ndarray:
        """Customer index per invoice (-1 for none): newcomers first, then repeat buyers; returns inherit."""
        cust = self.customers
        customer = np.full(len(kinds), -1, dtype=np.int64)
        own = np.flatnonzero(kinds == _CUSTOMER)
        # Each newcomer takes the first free customer invoice at or after its arrival.
        arrived = int(np.searchsorted(cust.arrival, end, side="left"))
        newcomers = np.arange(self.next_arrival, min(arrived, self.next_arrival + len(own)))
        if len(newcomers):
            rank = np.arange(len(newcomers))
            wanted = np.searchsorted(positions[own], np.maximum(cust.arrival[newcomers], positions[0]))
            slot = rank + np.maximum.accumulate(wanted - rank)
            placed = slot < len(own)  # slots ascend, so this is a prefix; the others arrive in the next block
            customer[own[slot[placed]]] = newcomers[placed]
            self.next_arrival += int(placed.sum())
        repeat = own[customer[own] < 0]
        customer[repeat] = cust.repeat_buyers(self.rng, positions[repeat])
        referring = reference >= 0
        customer[referring] = customer[reference[referring]]
        return customer

    def _countries(self, kinds: np.ndarray, customer: np.ndarray) -> np.ndarray:
        """Country index per invoice: the customer's home, a web-shop country for guests, else the UK."""
        country = np.full(len(kinds), self.uk, dtype=np.int64)
        known = customer >= 0
        country[known] = self.customers.country[customer[known]]
        guest = np.flatnonzero(kinds == _GUEST)
        country[guest] = self.guest_country[_draw(self.guest_country_cdf, self.rng.random(len(guest)))]
        return country

    def _purchases(
        self, first_line: int, invoice: np.ndarray, line_kind: np.ndarray, customer: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Product, catalogue entry, quantity and price (cents) of ordinary purchase lines."""
        rng, cat = self.rng, self.catalogue
        n = len(invoice)
        product = _draw(cat.popularity_cdf, rng.random(n))
        purchase = np.flatnonzero(line_kind <= _GUEST)
        for _ in range(_RESAMPLE_ROUNDS):
            # Real invoices list a product once; repeats come from the deliberate duplicates.
            key = invoice[purchase] * cat.size + product[purchase]
            order = np.argsort(key, kind="stable")
            clash = purchase[order[1:][key[order[1:]] == key[order[:-1]]]]
            if not len(clash):
                break
            product[clash] = _draw(cat.popularity_cdf, rng.random(len(clash)))
        renamed = first_line + np.arange(n) >= cat.rename_at[product]
        entry = np.where(renamed, cat.size + product, product)
        by_customer = line_kind == _CUSTOMER
        scale = self.customers.qty_scale[np.maximum(customer[invoice], 0)]
        packs = np.maximum(1, np.rint(scale * rng.lognormal(0.0, LINE_QTY_SIGMA, n))).astype(np.int64)
        single_items = np.floor(rng.lognormal(0.0, GUEST_QTY_SIGMA, n)).astype(np.int64) + 1
        quantity = np.where(by_customer, cat.pack[product] * packs, single_items)
        list_cents = np.where(packs >= BULK_PACKS, cat.bulk_cents[product], cat.base_cents[product])
        cents = np.where(by_customer, list_cents, cat.guest_cents[product])
        cents[purchase[rng.random(len(purchase)) < FREE_ITEM_RATE]] = 0
        absurd = np.flatnonzero(by_customer & (rng.random(n) < ABSURD_QUANTITY_RATE))
        quantity[absurd] = rng.integers(10_000, 100_000, len(absurd))
        return product, entry, quantity, cents

    def _non_products(
        self,
        kinds: np.ndarray,
        sizes: np.ndarray,
        starts: np.ndarray,
        country: np.ndarray,
        line_kind: np.ndarray,
        entry: np.ndarray,
        quantity: np.ndarray,
        cents: np.ndarray,
    ) -> None:
        """Postage, carriage, manual and fee lines, in place (postage and carriage close an invoice)."""
        rng, codes = self.rng, self.catalogue.special_index
        special = np.full(len(line_kind), -1, dtype=np.int64)
        last_line = starts + sizes - 1
        u = rng.random(len(kinds))
        own, guest = kinds == _CUSTOMER, kinds == _GUEST
        foreign = (country != self.uk) & (country != self.eire)
        special[last_line[own & foreign & (u < POSTAGE_PROB_FOREIGN)]] = codes["POST"]
        special[last_line[own & (country == self.uk) & (u < POSTAGE_PROB_UK)]] = codes["POST"]
        special[last_line[own & (country == self.eire) & (u < CARRIAGE_PROB_EIRE)]] = codes["C2"]
        special[last_line[guest & (sizes >= 2) & (u < DOTCOM_POSTAGE_PROB)]] = codes["DOT"]
        purchase = np.flatnonzero(line_kind <= _GUEST)
        v = rng.random(len(purchase))
        special[purchase[v < MANUAL_LINE_RATE]] = codes["M"]
        special[purchase[(v >= MANUAL_LINE_RATE) & (v < MANUAL_LINE_RATE + PADS_LINE_RATE)]] = codes["PADS"]
        fee = self.fee_special[line_kind]
        fee_lines = np.flatnonzero(fee >= 0)
        special[fee_lines] = fee[fee_lines]

        marked = np.flatnonzero(special >= 0)
        code = special[marked]
        entry[marked] = self.catalogue.special_base + code
        cents[marked] = self._special_cents(code)
        quantity[marked] = np.where(code == codes["POST"], np.minimum(rng.geometric(0.45, len(code)), 8), 1)
        quantity[fee_lines] = -1  # fees are booked on "C" invoices, like the real data's discounts

    def _special_cents(self, codes: np.ndarray) -> np.ndarray:
        cat, rng = self.catalogue, self.rng
        noise = np.exp(cat.special_sigma[codes] * rng.standard_normal(len(codes)))
        cents = np.rint(cat.special_median[codes] * noise)
        post = codes == cat.special_index["POST"]
        cents[post] = _choose(rng, tuple(POSTAGE_PRICES.items()), int(post.sum()))
        return np.maximum(cents, 1).astype(np.int64)

    def _duplicate_sources(self, line_kind: np.ndarray, first: np.ndarray) -> np.ndarray:
        """Line to copy each line from: itself, or for exact duplicates an earlier line of its invoice."""
        rng = self.rng
        n = len(line_kind)
        source = np.arange(n)
        offset = source - first
        duplicate = np.flatnonzero((line_kind == _CUSTOMER) & (offset > 0) & (rng.random(n) < DUPLICATE_RATE))
        source[duplicate] = first[duplicate] + (rng.random(len(duplicate)) * offset[duplicate]).astype(np.int64)
        while True:  # a duplicate of a duplicate must copy the original line
            deeper = source[source]
            if np.array_equal(deeper, source):
                return source
            source = deeper

    def _cancellations(
        self,
        line_kind: np.ndarray,
        invoice: np.ndarray,
        first: np.ndarray,
        sizes: np.ndarray,
        starts: np.ndarray,
        reference: np.ndarray,
        product: np.ndarray,
        entry: np.ndarray,
        quantity: np.ndarray,
        cents: np.ndarray,
    ) -> None:
        """Cancellation lines return a contiguous run of lines of the referenced invoice, in place."""
        rng, cat = self.rng, self.catalogue
        lines = np.flatnonzero(line_kind == _CANCEL)
        own_invoice = invoice[lines]
        ref = reference[own_invoice]
        slack = sizes[ref] - sizes[own_invoice] + 1
        offset = (rng.random(len(sizes))[own_invoice] * slack).astype(np.int64)
        origin = starts[ref] + offset + (lines - first[lines])
        bought = quantity[origin]
        partial = np.minimum(1 + (rng.random(len(lines)) * bought).astype(np.int64), bought)
        entry[lines] = entry[origin]
        cents[lines] = cents[origin]
        quantity[lines] = -np.where(rng.random(len(lines)) < CANCEL_FULL_QUANTITY_SHARE, bought, partial)
        unreferenced = lines[rng.random(len(lines)) < CANCEL_UNREFERENCED_SHARE]
        entry[unreferenced] = product[unreferenced]
        cents[unreferenced] = cat.base_cents[product[unreferenced]]
        quantity[unreferenced] = -cat.pack[product[unreferenced]]

    def _adjustments(
        self, line_kind: np.ndarray, product: np.ndarray, entry: np.ndarray, quantity: np.ndarray, cents: np.ndarray
    ) -> dict[int, str]:
        """Stock corrections in place (zero price, either sign, NULL description); returns notes by line."""
        rng, cat = self.rng, self.catalogue
        lines = np.flatnonzero(line_kind == _ADJUST)
        entry[lines] = 2 * cat.size + product[lines]
        cents[lines] = 0
        magnitude = np.ceil(rng.lognormal(math.log(ADJUSTMENT_MEDIAN_QTY), 1.3, len(lines))).astype(np.int64)
        quantity[lines] = np.where(rng.random(len(lines)) < ADJUSTMENT_NEGATIVE_SHARE, -magnitude, magnitude)
        noted = lines[rng.random(len(lines)) < ADJUSTMENT_NOTE_SHARE]
        notes = rng.integers(0, len(ADJUSTMENT_NOTES), len(noted))
        return {
            line: f"{cat.codes[product[line]]}\t{ADJUSTMENT_NOTES[note]}\t"
            for line, note in zip(noted.tolist(), notes.tolist())
        }

    def _render(
        self,
        kinds: np.ndarray,
        customer: np.ndarray,
        country: np.ndarray,
        positions: np.ndarray,
        invoice: np.ndarray,
        entry: np.ndarray,
        quantity: np.ndarray,
        cents: np.ndarray,
        notes: dict[int, str],
    ) -> list[str]:
        """COPY text pieces: every field is looked up from small per-block tables, then interleaved."""
        m = len(kinds)
        prefixes = np.where(self.is_cancellation[kinds], "C", "").tolist()
        numbers = range(self.next_invoice, self.next_invoice + m)
        self.next_invoice += m
        invoice_text = np.array([f"{p}{num}\t" for p, num in zip(prefixes, numbers)], dtype=object)

        day, minute = self.timeline.locate(positions)
        days, day_inverse = np.unique(day, return_inverse=True)
        day_names = np.datetime_as_string(self.timeline.days[days]).tolist()
        minute_text = self.timeline.minute_text
        date_text = np.array(
            [f"{day_names[d]} {minute_text[t]}" for d, t in zip(day_inverse.tolist(), minute.tolist())], dtype=object
        )

        ids = np.where(customer >= 0, self.customers.ids[np.maximum(customer, 0)], -1).tolist()
        tails = self.country_tail[country].tolist()
        customer_text = np.array([f"{i}{t}" if i >= 0 else f"\\N{t}" for i, t in zip(ids, tails)], dtype=object)

        quantities, quantity_inverse = np.unique(quantity, return_inverse=True)
        quantity_text = np.array([f"{q}\t" for q in quantities.tolist()], dtype=object)
        prices, price_inverse = np.unique(cents, return_inverse=True)
        price_text = np.array([f"{c // 100}.{c % 100:02d}\t" for c in prices.tolist()], dtype=object)

        pieces = np.empty(6 * len(invoice), dtype=object)
        pieces[0::6] = invoice_text[invoice]
        pieces[1::6] = self.catalogue.entries[entry]
        pieces[2::6] = quantity_text[quantity_inverse]
        pieces[3::6] = date_text[invoice]
        pieces[4::6] = price_text[price_inverse]
        pieces[5::6] = customer_text[invoice]
        for line, text in notes.items():
            pieces[6 * line + 1] = text
        return pieces.tolist()
