"""Importers: every supported format, name inference, malformed files, the real data."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import Engine, func, select

from persistence.candles import SqlCandleStore, read_candles
from persistence.models import Candle
from tools.importers import (
    BadRowsError,
    ImportFormatError,
    import_file,
    infer_symbol_interval,
    normalise_symbol,
    read_candle_file,
)

HOUR = 3_600_000
T0 = 1_704_067_200_000  # 2024-01-01 00:00 UTC


def kline_lines(count: int, *, scale: int = 1) -> str:
    """data.binance.vision layout: 12 columns, no header; `scale=1000` gives µs timestamps."""
    lines = []
    for i in range(count):
        t = (T0 + i * HOUR) * scale
        close_t = (T0 + (i + 1) * HOUR - 1) * scale
        p = 42_000 + i
        lines.append(
            f"{t},{p}.0,{p + 10}.0,{p - 10}.0,{p + 5}.0,1.5,{close_t},63000.0,50,0.7,29000.0,0"
        )
    return "\n".join(lines) + "\n"


def count_rows(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(Candle)).scalar_one())


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("BTC_USDT-1h.feather", ("BTCUSDT", "1h")),
        ("ETH_USDT-4h-futures.feather", ("ETHUSDT", "4h")),
        ("BTCUSDT-1h-2024-01.zip", ("BTCUSDT", "1h")),
        ("ETHUSDT-1m-2024-01-05.csv", ("ETHUSDT", "1m")),
        ("SOL_USDT-1d.json", ("SOLUSDT", "1d")),
        ("binance_btcusdt_day_2020.csv", ("BTCUSDT", "1d")),
        ("prices.csv", (None, None)),
    ],
)
def test_symbol_and_interval_from_file_name(
    name: str, expected: tuple[str | None, str | None]
) -> None:
    assert infer_symbol_interval(Path(name)) == expected


@pytest.mark.parametrize("raw", ["BTCUSDT", "btc/usdt", "BTC_USDT", "BTC-USDT"])
def test_symbol_spellings_normalise(raw: str) -> None:
    assert normalise_symbol(raw) == "BTCUSDT"


@pytest.mark.parametrize("raw", ["BTC", "BTC USDT!", "", "X" * 30])
def test_bad_symbols_are_refused(raw: str) -> None:
    with pytest.raises(ValueError, match="symbol"):
        normalise_symbol(raw)


def test_kline_csv_in_ms_and_us_read_the_same(tmp_path: Path) -> None:
    ms = tmp_path / "BTCUSDT-1h-2024-01.csv"
    us = tmp_path / "BTCUSDT-1h-2025-01.csv"
    ms.write_text(kline_lines(30))
    us.write_text(kline_lines(30, scale=1000))
    a, b = read_candle_file(ms), read_candle_file(us)
    assert (a.symbol, a.interval) == ("BTCUSDT", "1h")
    pd.testing.assert_frame_equal(a.frame, b.frame)
    assert a.frame["open_time"].iloc[0] == T0
    assert a.frame["close"].iloc[3] == 42_008.0


def test_zip_import(tmp_path: Path, sqlite_engine: Engine) -> None:
    path = tmp_path / "ETHUSDT-1h-2024-01.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("ETHUSDT-1h-2024-01.csv", kline_lines(48))
    report = import_file(SqlCandleStore(sqlite_engine), path)
    assert (report.symbol, report.interval, report.rows_new) == ("ETHUSDT", "1h", 48)
    assert import_file(SqlCandleStore(sqlite_engine), path).rows_new == 0


def test_freqtrade_json_and_feather(tmp_path: Path) -> None:
    rows = [[T0 + i * HOUR, 10.0 + i, 11.0 + i, 9.0 + i, 10.5 + i, 100.0] for i in range(24)]
    json_path = tmp_path / "SOL_USDT-1h.json"
    json_path.write_text(json.dumps(rows))
    feather_path = tmp_path / "SOL_USDT-1h.feather"
    frame = pd.DataFrame(rows, columns=["date", "open", "high", "low", "close", "volume"])
    frame["date"] = pd.to_datetime(frame["date"], unit="ms", utc=True)
    frame.to_feather(feather_path)
    from_json, from_feather = read_candle_file(json_path), read_candle_file(feather_path)
    assert from_json.symbol == from_feather.symbol == "SOLUSDT"
    pd.testing.assert_frame_equal(from_json.frame, from_feather.frame, check_dtype=False)
    assert from_json.frame["open_time"].tolist() == [r[0] for r in rows]


def test_header_csv_with_override(tmp_path: Path) -> None:
    path = tmp_path / "prices.csv"
    path.write_text(
        "datetime,open,high,low,close,volume\n"
        "2020-01-01 00:00:00,7195.24,7255.0,7175.15,7200.85,16792.38\n"
        "2020-01-02 00:00:00,7200.77,7212.5,6924.74,6965.71,31951.48\n"
        "2020-01-03 00:00:00,6965.49,7405.0,6871.04,7344.96,68428.5\n"
    )
    with pytest.raises(ValueError, match="pass --symbol"):
        read_candle_file(path)
    parsed = read_candle_file(path, symbol="btc/usdt", interval="1d")
    assert parsed.symbol == "BTCUSDT"
    assert parsed.frame["open_time"].tolist() == [
        1_577_836_800_000 + d * 86_400_000 for d in range(3)
    ]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("BTCUSDT-1h-2024-01.csv", "1704067200000,1,2,3\n", "expected 12 columns"),
        (
            "BTCUSDT-1h-2024-02.csv",
            kline_lines(3).replace("42001.0", "abc", 1),
            "line 2, field 'open', value 'abc': not a number",
        ),
        ("BTC_USDT-1h.json", "{not json", "not valid JSON"),
        ("BTC_USDT-1h.json", "[[1, 2, 3]]", "row 1 is not a"),
        ("BTC_USDT-1h.feather", "garbage", "not a feather file"),
        ("BTCUSDT-1h-2024-01.zip", "garbage", "not a valid zip"),
        ("BTC_USDT-1h.csv", "when,open\n2020-01-01,1\n", "CSV header lacks"),
        ("BTC_USDT-1h.parquet", "x", "unsupported file type"),
    ],
)
def test_malformed_files_fail_clearly_and_write_nothing(
    tmp_path: Path, sqlite_engine: Engine, name: str, content: str, message: str
) -> None:
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(ImportFormatError, match=message):
        import_file(SqlCandleStore(sqlite_engine), path)
    assert count_rows(sqlite_engine) == 0


def test_row_level_parse_error_leaves_nothing_partial(
    tmp_path: Path, sqlite_engine: Engine
) -> None:
    lines = kline_lines(20_000 // 2).splitlines()  # spans two insert batches
    lines[-1] = lines[-1].replace(",1.5,", ",oops,")
    path = tmp_path / "BTCUSDT-1h-2024-01.csv"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ImportFormatError, match=r"line 10000, field 'volume', value 'oops'"):
        import_file(SqlCandleStore(sqlite_engine), path)
    assert count_rows(sqlite_engine) == 0


def test_wrong_interval_for_the_data_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "BTCUSDT-1h-2024-01.csv"
    path.write_text(kline_lines(10))
    with pytest.raises(ImportFormatError, match="not interval '1d'"):
        read_candle_file(path, interval="1d")
    with pytest.raises(ValueError, match="unknown interval '7h'"):
        read_candle_file(path, interval="7h")


def test_missing_file() -> None:
    with pytest.raises(FileNotFoundError, match="no such file"):
        read_candle_file(Path("/nonexistent/BTC_USDT-1h.feather"))


@pytest.mark.realdata
def test_real_btc_1h_imports_with_its_28_gaps_idempotently(
    engine: Engine, real_btc_1h: Path
) -> None:
    first = import_file(SqlCandleStore(engine), real_btc_1h)
    assert (first.symbol, first.interval) == ("BTCUSDT", "1h")
    assert first.rows_new == 58_419
    assert first.rejected == 0
    assert len(first.gaps) == 28
    assert sum(g.missing for g in first.gaps) == 128
    longest = max(first.gaps, key=lambda g: g.missing)
    assert (longest.start.isoformat(), longest.missing) == ("2018-02-08T01:00:00+00:00", 33)
    second = import_file(SqlCandleStore(engine), real_btc_1h)
    assert second.rows_new == 0
    assert count_rows(engine) == 58_419


@pytest.mark.realdata
def test_every_real_file_imports_cleanly(sqlite_engine: Engine, real_data_dir: Path) -> None:
    files = sorted(p for p in real_data_dir.rglob("*") if p.suffix in {".feather", ".csv"})
    assert len(files) >= 4
    reports = {
        f"{p.parent.name}/{p.name}": import_file(SqlCandleStore(sqlite_engine), p) for p in files
    }
    assert all(r.rejected == 0 for r in reports.values())
    basana = reports["gbeced__basana/binance_btcusdt_day_2020.csv"]
    assert (basana.symbol, basana.interval, basana.rows_new, len(basana.gaps)) == (
        "BTCUSDT",
        "1d",
        366,
        0,
    )
    eth = reports["daisybum__cryptoTradingBot/ETH_USDT-1h.feather"]
    assert (eth.rows_new, [g.missing for g in eth.gaps]) == (8_998, [1])
    # daisybum's BTC file lies inside NIC's: identical candles, so nothing new whichever came first.
    nic = reports["NIC-project-team__TradingStrategyGA/BTC_USDT-1h.feather"]
    daisy = reports["daisybum__cryptoTradingBot/BTC_USDT-1h.feather"]
    assert nic.rows_new + daisy.rows_new == 58_419
    stored = read_candles(sqlite_engine, "BTCUSDT", "1d")
    assert np.isclose(stored["open"].iloc[0], 7195.24)


def test_an_insane_row_imports_nothing_and_is_named(tmp_path: Path, sqlite_engine: Engine) -> None:
    lines = kline_lines(30).splitlines()
    fields = lines[6].split(",")
    fields[3] = "99999.0"  # low above high: line 7
    lines[6] = ",".join(fields)
    path = tmp_path / "BTCUSDT-1h-2024-01.csv"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(BadRowsError) as caught:
        import_file(SqlCandleStore(sqlite_engine), path)
    assert "line 7 (2024-01-01 06:00), field 'low', value '99999.0': low > high" in str(
        caught.value
    )
    assert caught.value.count == 1
    assert count_rows(sqlite_engine) == 0


def test_skip_bad_imports_the_good_rows_and_reports_the_rest(
    tmp_path: Path, sqlite_engine: Engine
) -> None:
    lines = kline_lines(30).splitlines()
    lines[3] = lines[3].replace(",1.5,", ",-1,")  # negative volume
    lines[9] = lines[9].replace(",1.5,", ",lots,")  # not a number
    path = tmp_path / "BTCUSDT-1h-2024-01.csv"
    path.write_text("\n".join(lines) + "\n")
    report = import_file(SqlCandleStore(sqlite_engine), path, skip_bad=True)
    assert (report.rows_in, report.rows_new, report.rejected) == (30, 28, 2)
    described = sorted(r.describe() for r in report.rejected_examples)
    assert any("line 10" in d and "'volume'" in d and "'lots'" in d for d in described)
    assert any("line 4" in d and "negative volume" in d for d in described)
    assert count_rows(sqlite_engine) == 28


def test_conflicting_reimport_is_reported_and_replace_overwrites(
    tmp_path: Path, sqlite_engine: Engine
) -> None:
    store = SqlCandleStore(sqlite_engine)
    path = tmp_path / "BTCUSDT-1h-2024-01.csv"
    path.write_text(kline_lines(20))
    import_file(store, path)
    changed = kline_lines(20).replace("42003.0,42013.0", "42003.5,42013.0", 1)
    path.write_text(changed)
    report = import_file(store, path)
    assert (report.rows_new, report.conflicts, report.replaced) == (0, 1, 0)
    [example] = report.conflict_examples
    assert example.open_time == T0 + 3 * HOUR and example.stored_source == "import"
    assert (example.stored["open"], example.incoming["open"]) == (42003.0, 42003.5)
    assert read_candles(sqlite_engine, "BTCUSDT", "1h")["open"].iloc[3] == 42003.0  # kept
    replaced = import_file(store, path, replace=True)
    assert (replaced.conflicts, replaced.replaced) == (1, 1)
    assert read_candles(sqlite_engine, "BTCUSDT", "1h")["open"].iloc[3] == 42003.5


def test_a_candle_stored_while_forming_is_corrected_by_the_next_fetch(
    sqlite_engine: Engine,
) -> None:
    """A fetch overwrites a differing candle it stored itself (it was still forming then);
    it never silently overwrites an imported one."""
    from persistence.candles import store_candles

    def frame(close: float, start: int = 0, bars: int = 5) -> pd.DataFrame:
        times = T0 + HOUR * np.arange(start, start + bars, dtype="int64")
        return pd.DataFrame(
            {
                "open_time": times,
                "open": 100.0,
                "high": 120.0,
                "low": 90.0,
                "close": close,
                "volume": 1.0,
            }
        )

    later = T0 + 100 * HOUR
    store_candles(sqlite_engine, "BTCUSDT", "1h", frame(101.0), source="binance", now=later)
    fixed = store_candles(
        sqlite_engine,
        "BTCUSDT",
        "1h",
        frame(111.0),
        source="binance",
        now=later,
        overwrite="same_source",
    )
    assert (fixed.conflicts, fixed.replaced) == (5, 5)
    assert read_candles(sqlite_engine, "BTCUSDT", "1h")["close"].eq(111.0).all()
    store_candles(sqlite_engine, "BTCUSDT", "1h", frame(95.0, 10), source="import", now=later)
    kept = store_candles(
        sqlite_engine,
        "BTCUSDT",
        "1h",
        frame(97.0, 10),
        source="binance",
        now=later,
        overwrite="same_source",
    )
    assert (kept.conflicts, kept.replaced) == (5, 0)


def test_synthetic_rows_never_join_a_real_series(sqlite_engine: Engine) -> None:
    from persistence.candles import store_candles
    from tools.provenance import MixedSourceError
    from tools.synthetic import generate_candles

    store_candles(
        sqlite_engine,
        "BTCUSDT",
        "1h",
        generate_candles("BTCUSDT", "1h", T0, 10),
        source="import",
        now=T0 + 100 * HOUR,
    )
    with pytest.raises(MixedSourceError, match="already holds real candles"):
        store_candles(
            sqlite_engine,
            "BTCUSDT",
            "1h",
            generate_candles("BTCUSDT", "1h", T0 + 10 * HOUR, 5),
            source="synthetic",
            now=T0 + 100 * HOUR,
        )
