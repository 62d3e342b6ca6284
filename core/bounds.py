"""The bounds of every input, in one place: the API's request models and the CLI's options use
these types and limits, so a value is refused the same way (naming the field) at either edge,
before any work starts.

Everything a JSON Schema can say is said in the type (and so in the OpenAPI schema). Rules it
cannot say raise a `PydanticCustomError` of one of `RUNTIME_RULES`: a time relative to now, or a
rule between two fields; the API reports them as 422 with that `type` (and `missing_data` for a
request the stored data cannot serve, e.g. a replay before the stored history).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    StringConstraints,
    WithJsonSchema,
)
from pydantic_core import PydanticCustomError

DB_INT_MAX = 2**31 - 1
"""Largest id/count a 32-bit INTEGER column holds (Postgres `integer`)."""

ERA_START = datetime(2009, 1, 3, tzinfo=UTC)
"""The Bitcoin genesis block: no crypto market, no candles, before it."""

MAX_CASH = Decimal(10) ** 12
"""Starting cash cap (a trillion): far inside the ledger's NUMERIC(28, 10) money columns."""

MAX_BARS_PER_RUN = 200_000
"""About 23 years of 1h bars: a backtest longer than that is a mistake, not a backtest."""

MIN_WARMUP_BARS = 200
"""The indicators (EMA200) need this much history before the first decision."""

MAX_WARMUP_BARS = 5_000

SYMBOL_PATTERN = r"^[A-Z0-9]{2,15}(USDT|USDC|FDUSD|BUSD|USD|EUR|BTC|ETH)$"
"""A Binance spot symbol, compact and upper case (BTCUSDT), ending in a quote asset the desk
knows (`tools.sentiment.QUOTE_ASSETS`), at least 5 characters (`tools.importers`). The CLI
upper-cases and compacts before checking."""

Interval = Literal[
    "1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d", "3d", "1w"
]
"""The candle intervals (`tools.intervals.INTERVAL_MS`, checked equal by a test)."""

RUN_ID_PATTERN = r"^[A-Za-z0-9_.:-]{1,64}$"
"""Run ids (uuid4 from the API; CLI/test ids are word-like)."""

MAX_TEXT = 2_000
MONEY_QUANTUM = Decimal("1e-10")

OUT_OF_ERA = "out_of_era"
CROSS_FIELD = "cross_field"
MISSING_DATA = "missing_data"
"""A request the server's data cannot serve (a replay before the stored history)."""
RUNTIME_RULES = frozenset({OUT_OF_ERA, CROSS_FIELD, MISSING_DATA})
"""422 error types for rules outside what the OpenAPI schema can express."""


def in_era(value: datetime) -> datetime:
    """Aware UTC (naive means UTC), not before `ERA_START`, not in the future."""
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if value < ERA_START:
        raise PydanticCustomError(
            OUT_OF_ERA,
            "{value} is before {start}: there is no crypto market data that early",
            {"value": value.isoformat(), "start": ERA_START.date().isoformat()},
        )
    if value > datetime.now(UTC):
        raise PydanticCustomError(
            OUT_OF_ERA, "{value} is in the future", {"value": value.isoformat()}
        )
    return value


def cross_field(field: str, message: str) -> PydanticCustomError:
    """The error for a rule between fields (raise it from a model validator); `field` is the
    one it names (the API reports it as the error's field)."""
    return PydanticCustomError(
        CROSS_FIELD, "{field}: {message}", {"field": field, "message": message}
    )


def until_tomorrow(value: datetime) -> datetime:
    """An exclusive range end: in the era, at most a day ahead (a range "to today" ends at
    tomorrow's midnight; the run itself stops at the last closed bar)."""
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if value > datetime.now(UTC) + timedelta(days=1):
        raise PydanticCustomError(
            OUT_OF_ERA, "{value} is in the future", {"value": value.isoformat()}
        )
    if value <= ERA_START:
        return in_era(value)
    return value


def _not_a_string(value: object) -> object:
    if isinstance(value, str):
        raise ValueError("must be a JSON number, not a string")
    return value


JSON_NUMBER = BeforeValidator(_not_a_string)
"""For body fields: 5 and 5.0 are integers (as JSON Schema says), "5" is not."""


def _exact(value: Decimal) -> Decimal:
    exact = value.quantize(MONEY_QUANTUM, rounding=ROUND_HALF_EVEN)
    return exact if exact != 0 else Decimal(0)  # "0", never "0E-10", when sent back as text


def _amount(ge: int | float, le: int | float, string: str | None = None) -> tuple[object, ...]:
    """Metadata of a Decimal amount in [ge, le], kept to the ledger's 10 decimal places. It is
    sent as a JSON number, or — when `string` is given — as a string matching that pattern
    (exactly what the schema says: the pattern itself keeps strings within the bounds)."""

    def json_number(value: object) -> object:
        if isinstance(value, str) and (string is None or not re.fullmatch(string, value)):
            raise ValueError("must be a JSON number" if string is None else f"must match {string}")
        return value

    number = {"type": "number", "minimum": ge, "maximum": le}
    schema = (
        number if string is None else {"anyOf": [number, {"type": "string", "pattern": string}]}
    )
    return (
        BeforeValidator(json_number),
        Field(ge=Decimal(str(ge)), le=Decimal(str(le))),
        AfterValidator(_exact),
        WithJsonSchema(schema),
    )


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


DbId = Annotated[int, Field(ge=1, le=DB_INT_MAX)]
"""An id in a path or query (always text there)."""
BodyId = Annotated[int, Field(ge=1, le=DB_INT_MAX), JSON_NUMBER]
"""An id in a JSON body."""
Symbol = Annotated[str, StringConstraints(pattern=SYMBOL_PATTERN, max_length=20)]


def _iso_only(value: object) -> object:
    """A time is an ISO 8601 text (or a datetime from Python), never a number of seconds."""
    if isinstance(value, datetime) or (
        isinstance(value, str) and re.match(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}", value)
    ):
        return value
    raise ValueError("must be an ISO 8601 datetime, e.g. 2024-04-01T12:00:00Z")


PastTime = Annotated[datetime, BeforeValidator(_iso_only), AfterValidator(in_era)]
"""A time in the data's era: 2009-01-03 … now (naive = UTC)."""
RangeEnd = Annotated[datetime, BeforeValidator(_iso_only), AfterValidator(until_tomorrow)]
"""An exclusive range end: 2009-01-03 … a day ahead (naive = UTC)."""
# Each amount is a JSON number or a decimal string (how a Decimal travels back in stored JSON);
# the string's pattern alone keeps it within the bounds, so the schema says exactly what passes.
_PLACES = r"(\.[0-9]{1,10})?"
_ZEROS = r"(\.0{1,10})?"
CASH_STRING = rf"^([1-9][0-9]{{0,11}}{_PLACES}|1000000000000{_ZEROS})$"
Cash = Annotated[Decimal, *_amount(1, int(MAX_CASH), CASH_STRING)]
"""Starting cash: 1 … a trillion, e.g. 10000 or "10000.50"."""
Fraction = Annotated[Decimal, *_amount(0, 0.5, r"^0(\.[0-4][0-9]{0,9}|\.50{0,9})?$")]
"""A rate such as the fee: 0 … 50%."""
Bps = Annotated[
    Decimal,
    *_amount(0, 5_000, rf"^(([0-9]|[1-9][0-9]{{1,2}}|[1-4][0-9]{{3}}){_PLACES}|5000{_ZEROS})$"),
]
"""Basis points: 0 … 5000 (50%)."""
CostCap = Annotated[
    Decimal, *_amount(0, 1_000_000, rf"^(([0-9]|[1-9][0-9]{{1,5}}){_PLACES}|1000000{_ZEROS})$")
]
"""A USD cost cap: 0 … a million (a million itself only as a number)."""
WarmupBars = Annotated[int, Field(ge=MIN_WARMUP_BARS, le=MAX_WARMUP_BARS), JSON_NUMBER]
EveryBars = Annotated[int, Field(ge=1, le=MAX_BARS_PER_RUN), JSON_NUMBER]
Name = Annotated[
    str,
    StringConstraints(min_length=1, max_length=64, pattern=r"^[^\x00]*[^\s\x00][^\x00]*$"),
    AfterValidator(_no_nul),
]
Text = Annotated[
    str, StringConstraints(max_length=MAX_TEXT, pattern=r"^[^\x00]*$"), AfterValidator(_no_nul)
]
