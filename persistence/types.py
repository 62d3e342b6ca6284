"""Column types shared by the models.

Money policy: every amount in the ledger (cash, prices, quantities, fees, P&L) is a Python
`Decimal`. On Postgres it is stored in a `NUMERIC(p, s)` column; SQLite has no exact decimal
type (its NUMERIC affinity silently turns values into 64-bit floats), so there the same column is
stored as canonical decimal text. Either way a value round-trips exactly, quantised to the
column's scale, and no float ever touches the ledger. Market data (candles) stays float64: it is
measured data, not money we own.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import DateTime, Dialect, Numeric, String
from sqlalchemy.types import TypeDecorator, TypeEngine


class ExactDecimal(TypeDecorator[Decimal]):
    """NUMERIC(precision, scale) on Postgres, exact decimal text on SQLite."""

    impl = Numeric
    cache_ok = True

    def __init__(self, precision: int = 28, scale: int = 10) -> None:
        super().__init__(precision=precision, scale=scale, asdecimal=True)
        self.precision = precision
        self.scale = scale
        self._quantum = Decimal(1).scaleb(-scale)

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(self.precision + 2))
        return dialect.type_descriptor(Numeric(self.precision, self.scale, asdecimal=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        if isinstance(value, float):
            raise TypeError("ledger amounts must be Decimal or int, never float")
        quantised = Decimal(value).quantize(self._quantum)
        return str(quantised) if dialect.name == "sqlite" else quantised

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return Decimal(str(value)) if not isinstance(value, Decimal) else value

    def __repr__(self) -> str:
        return f"ExactDecimal({self.precision}, {self.scale})"


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on both backends (SQLite drops the zone otherwise)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: pass an aware UTC datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    def __repr__(self) -> str:
        return "UTCDateTime()"


def utcnow() -> datetime:
    return datetime.now(UTC)
