"""Sentiment and tokenomics providers: offline fixtures by default, live ones against a local
HTTP server on 127.0.0.1 (never the internet)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from core.settings import Settings
from tools.sentiment import (
    LiveSentimentProvider,
    OfflineSentimentProvider,
    SentimentUnavailableError,
    base_asset,
    sentiment_provider_from_settings,
)
from tools.tokenomics import (
    LiveTokenomicsProvider,
    OfflineTokenomicsProvider,
    TokenomicsUnavailableError,
)

RSS = b"""<?xml version="1.0"?><rss><channel>
<item><title>Bitcoin ETF inflows hit record</title></item>
<item><title>Solana upgrade ships</title></item>
</channel></rss>"""

COINGECKO = {
    "market_data": {
        "circulating_supply": 19_700_000,
        "total_supply": 19_700_000,
        "max_supply": 21_000_000,
        "market_cap": {"usd": 1.3e12},
        "fully_diluted_valuation": {"usd": 1.4e12},
    }
}


class _Handler(BaseHTTPRequestHandler):
    routes: ClassVar[dict[str, tuple[int, bytes]]] = {}

    def do_GET(self) -> None:
        path = self.path.split("?")[0]
        status, body = self.routes.get(path, (404, b"{}"))
        self.send_response(status)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[tuple[str, dict[str, tuple[int, bytes]]]]:
    routes: ClassVar[dict[str, tuple[int, bytes]]] = {}
    handler = type("H", (_Handler,), {"routes": routes})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", routes
    httpd.shutdown()
    httpd.server_close()


def test_offline_providers_are_labelled() -> None:
    s = OfflineSentimentProvider().get("BTCUSDT")
    assert s.source == "offline-sample" and 0 <= s.fear_greed <= 100 and s.headlines
    t = OfflineTokenomicsProvider().get("BTCUSDT", price=60_000)
    assert t.source == "offline-table" and t.max_supply == 21_000_000
    assert t.market_cap_usd == pytest.approx(t.circulating_supply * 60_000)
    assert sentiment_provider_from_settings(Settings()).name == "offline"


def test_unknown_inputs_fail_with_a_named_reason() -> None:
    with pytest.raises(TokenomicsUnavailableError, match="no offline tokenomics for PEPE"):
        OfflineTokenomicsProvider().get("PEPEUSDT", 1.0)
    with pytest.raises(ValueError, match="no known quote asset"):
        base_asset("BTCXYZ")
    with pytest.raises(ValueError, match="SENTIMENT_PROVIDER"):
        sentiment_provider_from_settings(Settings(sentiment_provider="psychic"))


def test_live_sentiment_against_local_server(server) -> None:  # type: ignore[no-untyped-def]
    url, routes = server
    routes["/fng/"] = (
        200,
        json.dumps(
            {
                "data": [
                    {
                        "value": "23",
                        "value_classification": "Extreme Fear",
                        "timestamp": "1700000000",
                    }
                ]
            }
        ).encode(),
    )
    routes["/rss"] = (200, RSS)
    got = LiveSentimentProvider(f"{url}/fng/", news_rss_url=f"{url}/rss").get("BTCUSDT")
    assert got.source == "live" and got.fear_greed == 23
    assert [h.title for h in got.headlines] == ["Bitcoin ETF inflows hit record"]


def test_live_sentiment_errors_name_the_feed(server) -> None:  # type: ignore[no-untyped-def]
    url, routes = server
    routes["/fng/"] = (500, b"oops")
    with pytest.raises(SentimentUnavailableError, match="fear & greed feed"):
        LiveSentimentProvider(f"{url}/fng/").get("BTCUSDT")
    routes["/fng/"] = (200, b'{"data": []}')
    with pytest.raises(SentimentUnavailableError):
        LiveSentimentProvider(f"{url}/fng/").get("BTCUSDT")


def test_live_tokenomics_against_local_server(server) -> None:  # type: ignore[no-untyped-def]
    url, routes = server
    routes["/coins/bitcoin"] = (200, json.dumps(COINGECKO).encode())
    got = LiveTokenomicsProvider(url).get("BTCUSDT", price=1.0)
    assert got.source == "live-coingecko" and got.market_cap_usd == 1.3e12
    assert got.annual_emission_pct is not None  # emission facts still come from the table
    routes["/coins/bitcoin"] = (429, b"{}")
    with pytest.raises(TokenomicsUnavailableError, match="CoinGecko"):
        LiveTokenomicsProvider(url).get("BTCUSDT", price=1.0)


async def test_unavailable_feed_makes_a_neutral_labelled_report() -> None:
    from graph_fakes import desk_context, state_in

    from graph.graph import graph

    class DownFeed:
        name = "live"

        def get(self, symbol: str, *, at: object = None):  # type: ignore[no-untyped-def]
            raise SentimentUnavailableError("fear & greed feed http://x failed: boom")

    ctx = desk_context(run_id="down", sentiment=DownFeed())
    chunks = [c async for c in graph.astream(state_in(), context=ctx, stream_mode="custom")]
    assert any(c.get("event") == "error" and "boom" in c["message"] for c in chunks)
    out = await graph.ainvoke(state_in(), context=ctx)
    report = out["reports"]["sentiment"]
    assert report.source == "unavailable" and report.confidence == 0
