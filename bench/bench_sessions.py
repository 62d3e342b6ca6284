"""Trading-session throughput: a rules-engine replay session with 2 symbols (BTC and ETH, real
1h candles, as fast as possible, events recorded as a job records them, SQLite) against the
backtests of the same bars (`run_engine`, one per symbol) measured in the same run."""

from __future__ import annotations

import asyncio
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bench import REAL_DATA_DIR

REAL = REAL_DATA_DIR / "daisybum__cryptoTradingBot"
SYMBOLS = {"BTCUSDT": "BTC_USDT-1h.feather", "ETHUSDT": "ETH_USDT-1h.feather"}
START, UNTIL = datetime(2023, 6, 1, tzinfo=UTC), datetime(2023, 7, 1, tzinfo=UTC)


def main() -> None:
    if not all((REAL / f).is_file() for f in SYMBOLS.values()):
        print(f"skipped: real BTC/ETH 1h data not found under {REAL}")
        return
    from core.settings import Settings
    from firm.recorder import RunRecorder
    from graph.backtest.data import load_backtest_data
    from graph.backtest.desk import GraphDecider
    from graph.backtest.engine import run_engine
    from persistence.candles import SqlCandleStore
    from persistence.db import init_db
    from sessions import service
    from sessions.desk import desk_settings
    from sessions.market import backtest_params
    from sessions.runner import run_session
    from sessions.schemas import SessionSpec
    from tools.importers import import_file

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        engine = init_db(url)
        for name in SYMBOLS.values():
            import_file(SqlCandleStore(engine), REAL / name)
        settings = Settings(
            database_url=url,
            data_source="store",  # type: ignore[arg-type]
            llm_provider="rules",  # type: ignore[arg-type]
            _env_file=None,  # type: ignore[call-arg]
        )
        spec = SessionSpec(symbols=list(SYMBOLS), replay_from=START, until=UNTIL, rules=True)
        sid = service.create_session(engine, spec, settings=settings)

        async def record() -> str | None:
            source = run_session(engine, sid, settings=settings)
            return await RunRecorder(engine, sid, wake=lambda _r: None).record(source)

        started = time.perf_counter()
        status = asyncio.run(record())
        session_s = time.perf_counter() - started
        view = service.get_session(engine, sid)
        assert status == "completed", view.error
        bars = view.bars_processed

        backtest_s = 0.0
        for symbol in SYMBOLS:
            started = time.perf_counter()
            params = backtest_params(spec, symbol, UNTIL)
            data = load_backtest_data(params, engine=engine, settings=settings)
            decider = GraphDecider.for_backtest(
                params, run_id="bench", settings=desk_settings(settings, spec), db=None, rules=True
            )
            run_engine(data.market, params, decider, data.snapshots, data_source=data.source)
            decider.close()
            backtest_s += time.perf_counter() - started
        engine.dispose()

    session_rate = bars / session_s
    backtest_rate = bars / backtest_s  # bars of both symbols, backtested one after the other
    print(
        f"replay session, 2 symbols, {bars} bars ({view.decisions} decisions, {view.trades} trades)"
    )
    per_s = view.decisions / session_s
    print(f"  session : {session_s:7.2f} s  {session_rate:7.1f} bars/s  ({per_s:.1f} decisions/s)")
    print(
        f"  backtest: {backtest_s:7.2f} s  {backtest_rate:7.1f} bars/s  "
        "(2 run_engine, same bars, same decider)"
    )
    print(f"  session / backtest rate: {session_rate / backtest_rate:.2f}")
