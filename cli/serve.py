"""`cryptofirm serve` (the API) and `cryptofirm demo` (migrate, make sure there is market data
and a default portfolio, then serve the API and the web UI from one process, and start a
rules-engine replay session on the stored BTC+ETH history so the Trading floor shows the desk
at work within a minute)."""

from __future__ import annotations

import socket
from typing import Annotated

import typer

from core.settings import Settings, get_settings

DEMO_FILES = (
    "NIC-project-team__TradingStrategyGA/BTC_USDT-1h.feather",
    "daisybum__cryptoTradingBot/ETH_USDT-1h.feather",
)
DEMO_SYNTHETIC = (("BTCUSDT", "1h"), ("ETHUSDT", "1h"))
SYNTHETIC_BARS = 24 * 365
DEMO_SPEED = 7200.0
"""The demo session's pace: two 1h bars a second."""

HostOption = Annotated[str, typer.Option(help="interface to bind")]
PortOption = Annotated[int, typer.Option(min=1, max=65535, help="TCP port")]


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code=2)


def _check_port_free(host: str, port: int) -> None:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            _fail(f"--port: cannot listen on {host}:{port} ({exc.strerror})")


def uvicorn_options(settings: Settings) -> dict[str, object]:
    """Forwarded headers only from configured proxies (`FORWARDED_ALLOW_IPS`): uvicorn's own
    default trusts 127.0.0.1, which would let any local client choose its rate-limit identity."""
    return {
        "log_level": settings.log_level.lower(),
        "proxy_headers": bool(settings.forwarded_allow_ips),
        "forwarded_allow_ips": settings.forwarded_allow_ips or None,
    }


def _run_uvicorn(host: str, port: int, settings: Settings) -> None:
    import uvicorn

    from api.main import create_app
    from core.logging import configure_from_settings

    # uvicorn's own loggers go through the root handler too (one format, LOG_FORMAT).
    configure_from_settings(settings)
    uvicorn.run(
        create_app(settings),
        host=host,
        port=port,
        log_config=None,
        **uvicorn_options(settings),  # type: ignore[arg-type]
    )


WorkerOption = Annotated[
    bool | None,
    typer.Option(
        "--worker/--no-worker",
        help="also execute runs in this process (default API_EMBEDDED_WORKER; "
        "--no-worker needs Postgres and `cryptofirm worker` processes)",
    ),
]


def serve(
    host: HostOption = "127.0.0.1", port: PortOption = 8000, worker: WorkerOption = None
) -> None:
    """Serve the REST API (and the web UI when web/out exists)."""
    from graph.checkpoint import uses_postgres

    _check_port_free(host, port)
    settings = get_settings()
    if worker is not None:
        settings = settings.model_copy(update={"api_embedded_worker": worker})
    if not settings.api_embedded_worker and not uses_postgres(settings.database_url):
        _fail("--no-worker: with SQLite the API's own worker is the only one (use Postgres)")
    typer.echo(f"cryptofirm API on http://{host}:{port}/api (docs: http://{host}:{port}/docs)")
    _run_uvicorn(host, port, settings)


def ensure_demo_data(settings: Settings) -> list[str]:
    """Fill an empty candle store: the real BTC/ETH 1h files when present, else synthetic
    candles (stored with source=synthetic, so every screen labels them). Returns what it did."""
    from persistence.candles import SqlCandleStore, list_series, store_candles
    from persistence.db import init_db
    from tools.candle_frame import now_ms
    from tools.importers import import_file
    from tools.intervals import interval_ms
    from tools.synthetic import SYNTHETIC_SOURCE, generate_candles

    engine = init_db(settings.database_url)
    if list_series(engine):
        return ["market data: store already has candles"]
    done: list[str] = []
    real_dir = settings.real_data_dir
    real = [real_dir / name for name in DEMO_FILES if (real_dir / name).is_file()]
    for path in real:
        report = import_file(SqlCandleStore(engine), path)
        done.append(f"imported {path.name}: {report.rows_new} real Binance candles")
    if real:
        return done
    for symbol, interval in DEMO_SYNTHETIC:
        step = interval_ms(interval)
        start = now_ms() - (SYNTHETIC_BARS + 1) * step
        frame = generate_candles(
            symbol, interval, start, SYNTHETIC_BARS, seed=settings.synthetic_seed
        )
        report = store_candles(engine, symbol, interval, frame, source=SYNTHETIC_SOURCE)
        done.append(f"no real data at {real_dir}: stored {report.rows_new} SYNTHETIC {symbol} bars")
    return done


DemoSpeedOption = Annotated[
    float,
    typer.Option(
        "--speed", min=1, max=100_000, help="demo replay pace, × real time (7200: 2 bars/s)"
    ),
]
SessionOption = Annotated[
    bool, typer.Option("--session/--no-session", help="start the demo trading session")
]


def demo(
    host: HostOption = "127.0.0.1",
    port: PortOption = 8000,
    speed: DemoSpeedOption = DEMO_SPEED,
    session: SessionOption = True,
) -> None:
    """Migrate, make sure there is market data and a default portfolio, then serve the API
    and the web UI with a replay session trading on the Trading floor; prints the URLs."""
    from persistence.candles import list_series
    from persistence.db import init_db
    from persistence.portfolios import ensure_default_portfolio

    _check_port_free(host, port)
    settings = get_settings()
    for line in ensure_demo_data(settings):
        typer.echo(line)
    from cli.headlines import ensure_demo_headlines

    for line in ensure_demo_headlines(settings):
        typer.echo(line)
    # With only invented demo candles the demo trades a synthetic portfolio (never a real one).
    engine = init_db(settings.database_url)
    stored = list_series(engine)
    synthetic = bool(stored) and all(s.sources == ["synthetic"] for s in stored)
    portfolio = ensure_default_portfolio(engine, settings, kind="synthetic" if synthetic else None)
    typer.echo(
        f"{portfolio.kind} portfolio {portfolio.name!r} (id {portfolio.id}): "
        f"{portfolio.starting_cash} USDT"
    )
    if not settings.web_out_dir.is_dir():
        typer.echo(f"note: no web UI build at {settings.web_out_dir} (cd web && npm run build)")
    base = f"http://{host}:{port}"
    if session:
        from cli.demo_session import demo_spec, start_when_serving

        spec, note = demo_spec(engine, speed)
        typer.echo(note)
        if spec is not None:
            start_when_serving(base, spec, settings)
    typer.echo(f"\n  open {base}/  ·  trading floor: {base}/floor\n")
    _run_uvicorn(host, port, settings)
