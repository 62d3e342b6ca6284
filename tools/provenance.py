"""Where a price came from, and which kind of market that makes it.

Every candle series, snapshot, fill and mark carries a `source`:

- `binance`: fetched from Binance just now (and stored as fetched);
- `store`: read from the local candle store (real candles fetched or imported earlier);
- `store-resampled`: coarser candles aggregated from finer stored ones (`tools.resample`);
- `synthetic`: invented by `tools.synthetic`, never a market price.

The first three are the *real* market; `synthetic` is a market of its own. Prices of one kind
never value positions bought in the other (`MixedSourceError`).
"""

from __future__ import annotations

from typing import Literal

SeriesSource = Literal["binance", "store", "store-resampled", "synthetic"]
MarketKind = Literal["real", "synthetic"]

SERIES_SOURCES: tuple[str, ...] = ("binance", "store", "store-resampled", "synthetic")
SYNTHETIC_SOURCE = "synthetic"
# Labels stored in `candles.source` (where a stored row came from) are real unless synthetic.
STORED_ROW_SOURCES: tuple[str, ...] = ("binance", "import", "synthetic")
MARKET_KINDS: tuple[str, ...] = ("real", "synthetic")


class MixedSourceError(ValueError):
    """Prices of one market kind were about to value or join data of the other kind."""


def market_kind(source: str) -> MarketKind:
    """`synthetic` → synthetic; every real label (series or stored-row) → real."""
    if source == SYNTHETIC_SOURCE:
        return "synthetic"
    if source in SERIES_SOURCES or source in STORED_ROW_SOURCES:
        return "real"
    raise ValueError(f"source: unknown price source {source!r}; one of {SERIES_SOURCES}")


def check_same_market(expected: MarketKind, source: str, *, what: str) -> None:
    """Raise `MixedSourceError` unless `source` belongs to the `expected` market kind."""
    kind = market_kind(source)
    if kind != expected:
        raise MixedSourceError(
            f"{what}: prices from a {kind} source ({source}) cannot be used with a {expected} "
            f"market; keep synthetic and real data apart"
        )
