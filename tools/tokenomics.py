"""Tokenomics inputs for the tokenomics analyst: supply, market cap, FDV, emission and unlocks.

`OfflineTokenomicsProvider` reads a table shipped with the project (`tools/data/tokenomics.json`,
supply facts with an as-of date; market cap and FDV are computed from the caller's price so they
move with the market in a backtest). `LiveTokenomicsProvider` calls CoinGecko's public
`/coins/{id}` endpoint at `settings.coingecko_base_url`. `source` says which was used.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

import httpx
from pydantic import BaseModel, Field, ValidationError

from core.settings import Settings
from tools.sentiment import base_asset

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
    source: str = Field(description="offline-table | live-coingecko")
    as_of: datetime | None = None

    @property
    def circulating_ratio(self) -> float | None:
        cap = self.max_supply or self.total_supply
        return self.circulating_supply / cap if cap else None


class TokenomicsUnavailableError(RuntimeError):
    """A live lookup failed or the asset is unknown; the message says which and why."""


class TokenomicsProvider(Protocol):
    name: str

    def get(self, symbol: str, price: float) -> TokenomicsInputs: ...


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


class OfflineTokenomicsProvider:
    name = "offline"

    def __init__(self, path: Path = OFFLINE_TABLE) -> None:
        self._table = _load_table(path)

    def get(self, symbol: str, price: float) -> TokenomicsInputs:
        asset = base_asset(symbol)
        row = self._table.assets.get(asset)
        if row is None:
            raise TokenomicsUnavailableError(
                f"no offline tokenomics for {asset}; known: {', '.join(sorted(self._table.assets))}"
            )
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
            source="offline-table",
            as_of=self._table.as_of,
        )


class LiveTokenomicsProvider:
    """CoinGecko `/coins/{id}`; emission and unlock facts still come from the offline table,
    because CoinGecko's free API does not publish them."""

    name = "live"

    def __init__(self, base_url: str, *, timeout_s: float = 10.0, table: Path = OFFLINE_TABLE):
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self._table = _load_table(table)

    def get(self, symbol: str, price: float) -> TokenomicsInputs:
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
