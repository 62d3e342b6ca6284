"""Tokenomics inputs for the tokenomics analyst: supply, market cap, FDV, emission and unlocks.

Every provider answers `get(symbol, price, at=…)` with facts public at the decision time `at`
(market cap and FDV come from the caller's price, so they move with the market):

- `PointInTimeTokenomicsProvider` (backtests and replays): BTC's supply is computed from its
  issuance schedule at `at` (`tools.btc_supply`); other assets use the newest row of the dated
  table dated at or before `at`, and none → unavailable, never a later figure.
- `OfflineTokenomicsProvider` reads the table shipped with the project
  (`tools/data/tokenomics.json`, dated) for live runs; it refuses a decision before that date.
- `LiveTokenomicsProvider` calls CoinGecko's public `/coins/{id}` at
  `settings.coingecko_base_url`, for live runs only.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

import httpx
from pydantic import BaseModel, Field, ValidationError

from core.settings import Settings
from tools.btc_supply import btc_supply_at
from tools.sentiment import LIVE_TOLERANCE, base_asset

OFFLINE_TABLE = Path(__file__).resolve().parent / "data" / "tokenomics.json"


class TokenomicsInputs(BaseModel):
    symbol: str
    asset: str
    circulating_supply: float = Field(gt=0)
    total_supply: float | None = None
    max_supply: float | None = Field(default=None, description="None: no hard cap")
    market_cap_usd: float | None = None
    fdv_usd: float | None = None
    annual_emission_pct: float | None = Field(
        default=None, description="new supply per year as % of circulating (net of burns)"
    )
    unlocks: list[str] = Field(default_factory=list, description="known upcoming unlock facts")
    notes: list[str] = Field(default_factory=list)
    source: str = Field(
        description="btc-issuance-schedule | dated-table | offline-table | live-coingecko"
    )
    as_of: datetime | None = None

    @property
    def circulating_ratio(self) -> float | None:
        cap = self.max_supply or self.total_supply
        return self.circulating_supply / cap if cap else None


class TokenomicsUnavailableError(RuntimeError):
    """A live lookup failed or the asset is unknown; the message says which and why."""


class TokenomicsProvider(Protocol):
    name: str

    def get(self, symbol: str, price: float, *, at: datetime | None = None) -> TokenomicsInputs:
        """Facts public at `at` (None: now), valued at `price`."""
        ...


class _AssetRow(BaseModel):
    coingecko_id: str
    circulating_supply: float = Field(gt=0)
    total_supply: float | None = None
    max_supply: float | None = None
    annual_emission_pct: float | None = None
    unlocks: list[str] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)


class _Table(BaseModel):
    as_of: datetime
    assets: dict[str, _AssetRow]


def _load_table(path: Path) -> _Table:
    try:
        return _Table.model_validate_json(path.read_bytes())
    except (OSError, ValidationError) as exc:
        raise ValueError(f"tokenomics table {path} is unreadable: {exc}") from exc


def _from_row(
    symbol: str, asset: str, row: _AssetRow, price: float, *, source: str, as_of: datetime
) -> TokenomicsInputs:
    fdv_supply = row.max_supply or row.total_supply
    return TokenomicsInputs(
        symbol=symbol,
        asset=asset,
        circulating_supply=row.circulating_supply,
        total_supply=row.total_supply,
        max_supply=row.max_supply,
        market_cap_usd=row.circulating_supply * price,
        fdv_usd=fdv_supply * price if fdv_supply else None,
        annual_emission_pct=row.annual_emission_pct,
        unlocks=row.unlocks,
        notes=row.notes,
        source=source,
        as_of=as_of,
    )


class OfflineTokenomicsProvider:
    name = "offline"

    def __init__(self, path: Path = OFFLINE_TABLE) -> None:
        self._table = _load_table(path)

    def get(self, symbol: str, price: float, *, at: datetime | None = None) -> TokenomicsInputs:
        asset = base_asset(symbol)
        if at is not None and at < self._table.as_of:
            raise TokenomicsUnavailableError(
                f"the offline tokenomics table is dated {self._table.as_of:%Y-%m-%d}; it is not "
                f"shown to a decision at {at:%Y-%m-%d %H:%M} (use point-in-time inputs)"
            )
        row = self._table.assets.get(asset)
        if row is None:
            raise TokenomicsUnavailableError(
                f"no offline tokenomics for {asset}; known: {', '.join(sorted(self._table.assets))}"
            )
        return _from_row(symbol, asset, row, price, source="offline-table", as_of=self._table.as_of)


class PointInTimeTokenomicsProvider:
    """BTC from its issuance schedule at `at`; other assets from the newest dated table row at
    or before `at` (each table is one dated set of rows)."""

    name = "point-in-time"

    def __init__(self, tables: list[Path] | None = None) -> None:
        loaded = [_load_table(p) for p in (tables or [OFFLINE_TABLE])]
        self._tables = sorted(loaded, key=lambda t: t.as_of)

    def get(self, symbol: str, price: float, *, at: datetime | None = None) -> TokenomicsInputs:
        at = at or datetime.now(UTC)
        asset = base_asset(symbol)
        if asset == "BTC":
            return _btc(symbol, price, at)
        dated = [t for t in self._tables if t.as_of <= at and asset in t.assets]
        if not dated:
            known = sorted(f"{t.as_of:%Y-%m-%d}" for t in self._tables if asset in t.assets)
            raise TokenomicsUnavailableError(
                f"no {asset} tokenomics dated at or before {at:%Y-%m-%d %H:%M} UTC "
                f"(rows dated: {', '.join(known) or 'none'})"
            )
        table = dated[-1]
        return _from_row(
            symbol, asset, table.assets[asset], price, source="dated-table", as_of=table.as_of
        )


def _btc(symbol: str, price: float, at: datetime) -> TokenomicsInputs:
    supply = btc_supply_at(at)
    return TokenomicsInputs(
        symbol=symbol,
        asset="BTC",
        circulating_supply=supply.supply_btc,
        total_supply=supply.supply_btc,
        max_supply=21_000_000,
        market_cap_usd=supply.supply_btc * price,
        fdv_usd=21_000_000 * price,
        annual_emission_pct=supply.annual_emission_pct,
        notes=[
            "fixed 21M cap; the block subsidy halves every 210,000 blocks",
            f"block height ≈ {supply.height:,} (estimated from known block times); subsidy "
            f"{supply.subsidy_btc:g} BTC per block; next halving at height "
            f"{supply.next_halving_height:,}",
        ],
        source="btc-issuance-schedule",
        as_of=at,
    )


class LiveTokenomicsProvider:
    """CoinGecko `/coins/{id}`; emission and unlock facts still come from the offline table,
    because CoinGecko's free API does not publish them."""

    name = "live"

    def __init__(self, base_url: str, *, timeout_s: float = 10.0, table: Path = OFFLINE_TABLE):
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self._table = _load_table(table)

    def get(self, symbol: str, price: float, *, at: datetime | None = None) -> TokenomicsInputs:
        if at is not None and at < datetime.now(UTC) - LIVE_TOLERANCE:
            raise TokenomicsUnavailableError(
                f"CoinGecko only knows today's supply; a decision at {at:%Y-%m-%d %H:%M} needs "
                "point-in-time inputs"
            )
        asset = base_asset(symbol)
        row = self._table.assets.get(asset)
        if row is None:
            raise TokenomicsUnavailableError(f"no CoinGecko id known for {asset}")
        url = f"{self.base_url}/coins/{row.coingecko_id}"
        params = {
            "localization": "false",
            "tickers": "false",
            "market_data": "true",
            "community_data": "false",
            "developer_data": "false",
        }
        try:
            response = httpx.get(url, params=params, timeout=self.timeout_s)
            response.raise_for_status()
            market = response.json()["market_data"]
            circulating = float(market["circulating_supply"])
            total = market.get("total_supply")
            max_supply = market.get("max_supply")
            market_cap = (market.get("market_cap") or {}).get("usd")
            fdv = (market.get("fully_diluted_valuation") or {}).get("usd")
        except (httpx.HTTPError, KeyError, TypeError, ValueError) as exc:
            raise TokenomicsUnavailableError(
                f"CoinGecko {url} failed: {type(exc).__name__}: {exc}"
            ) from exc
        return TokenomicsInputs(
            symbol=symbol,
            asset=asset,
            circulating_supply=circulating,
            total_supply=float(total) if total is not None else None,
            max_supply=float(max_supply) if max_supply is not None else None,
            market_cap_usd=float(market_cap) if market_cap is not None else None,
            fdv_usd=float(fdv) if fdv is not None else None,
            annual_emission_pct=row.annual_emission_pct,
            unlocks=row.unlocks,
            notes=row.notes,
            source="live-coingecko",
            as_of=datetime.now(UTC),
        )


def tokenomics_provider_from_settings(settings: Settings) -> TokenomicsProvider:
    if settings.tokenomics_provider == "offline":
        return OfflineTokenomicsProvider()
    if settings.tokenomics_provider == "live":
        return LiveTokenomicsProvider(settings.coingecko_base_url)
    raise ValueError(
        f"TOKENOMICS_PROVIDER must be 'offline' or 'live', got {settings.tokenomics_provider!r}"
    )
