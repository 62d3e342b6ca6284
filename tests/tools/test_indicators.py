"""Indicators against TA-Lib called directly, no look-ahead, and snapshots."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pandas_ta as ta
import pytest
import talib
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tools.indicators import (
    INDICATOR_COLUMNS,
    MIN_HISTORY_BARS,
    IndicatorTable,
    IndicatorValueError,
    InsufficientHistoryError,
    TaLibUnavailableError,
    compute_indicators,
    make_snapshot,
)

WARM_UP = 200
HOURS_PER_YEAR = 365 * 24

pytestmark = pytest.mark.realdata


@pytest.fixture(scope="module")
def btc_indicators(real_btc_1h_frame: pd.DataFrame) -> pd.DataFrame:
    return compute_indicators(real_btc_1h_frame, "1h")


def _talib_reference(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    close = frame["close"].to_numpy()
    high = frame["high"].to_numpy()
    low = frame["low"].to_numpy()
    macd, macd_signal, macd_hist = talib.MACD(close, 12, 26, 9)
    upper, middle, lower = talib.BBANDS(close, 20, 2.0, 2.0, talib.MA_Type.SMA)
    return {
        "rsi_14": talib.RSI(close, 14),
        "macd": macd,
        "macd_signal": macd_signal,
        "macd_hist": macd_hist,
        "ema_20": talib.EMA(close, 20),
        "ema_50": talib.EMA(close, 50),
        "ema_200": talib.EMA(close, 200),
        "bb_upper": upper,
        "bb_middle": middle,
        "bb_lower": lower,
        "atr_14": talib.ATR(high, low, close, 14),
        "volume_sma_20": talib.SMA(frame["volume"].to_numpy(), 20),
    }


def test_pandas_ta_sees_talib() -> None:
    assert ta.Imports["talib"] is True


def test_every_talib_indicator_equals_talib_on_real_btc(
    real_btc_1h_frame: pd.DataFrame, btc_indicators: pd.DataFrame
) -> None:
    reference = _talib_reference(real_btc_1h_frame)
    for column, expected in reference.items():
        actual = btc_indicators[column].to_numpy()
        assert np.allclose(actual[WARM_UP:], expected[WARM_UP:], rtol=1e-12, atol=0.0), column
        assert not np.isnan(actual[WARM_UP:]).any(), column


def test_fallback_without_talib_differs_in_warm_up(real_btc_1h_frame: pd.DataFrame) -> None:
    """Why TA-Lib is required: pandas-ta's own RSI is seeded differently early on, so the
    equality test above would catch a silent switch to the fallback."""
    close = real_btc_1h_frame["close"].iloc[:400]
    fallback = ta.rsi(close, length=14, talib=False).to_numpy()
    reference = talib.RSI(close.to_numpy(), 14)
    assert not np.allclose(fallback[14:WARM_UP], reference[14:WARM_UP], rtol=1e-6)


def test_compute_refuses_without_talib(
    monkeypatch: pytest.MonkeyPatch, real_btc_1h_frame: pd.DataFrame
) -> None:
    monkeypatch.setitem(ta.Imports, "talib", False)
    with pytest.raises(TaLibUnavailableError, match="ta-lib"):
        compute_indicators(real_btc_1h_frame.iloc[:300])


def test_returns_and_realised_volatility_by_hand(
    real_btc_1h_frame: pd.DataFrame, btc_indicators: pd.DataFrame
) -> None:
    close = real_btc_1h_frame["close"].to_numpy()
    for t in (21, 250, 10_000, 40_000, len(close) - 1):
        assert btc_indicators["ret_1"].iloc[t] == pytest.approx(close[t] / close[t - 1] - 1)
        assert btc_indicators["log_ret_1"].iloc[t] == pytest.approx(
            math.log(close[t] / close[t - 1])
        )
        window = [math.log(close[i] / close[i - 1]) for i in range(t - 19, t + 1)]
        mean = sum(window) / 20
        sample_std = math.sqrt(sum((x - mean) ** 2 for x in window) / 19)
        expected = sample_std * math.sqrt(HOURS_PER_YEAR)
        assert btc_indicators["realized_vol_20"].iloc[t] == pytest.approx(expected, rel=1e-9)


def test_realised_volatility_is_annualised_for_the_interval(
    real_btc_1h_frame: pd.DataFrame,
) -> None:
    frame = real_btc_1h_frame.iloc[:500]
    hourly = compute_indicators(frame, "1h")["realized_vol_20"].iloc[-1]
    daily = compute_indicators(frame, "1d")["realized_vol_20"].iloc[-1]
    assert hourly / daily == pytest.approx(math.sqrt(24))


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(cut=st.integers(min_value=30, max_value=1_499))
def test_no_look_ahead(real_btc_1h_frame: pd.DataFrame, cut: int) -> None:
    """Values up to bar t are the same whether or not the bars after t exist."""
    frame = real_btc_1h_frame.iloc[20_000:21_500]
    full = compute_indicators(frame)[list(INDICATOR_COLUMNS)].to_numpy()
    truncated = compute_indicators(frame.iloc[: cut + 1])[list(INDICATOR_COLUMNS)].to_numpy()
    np.testing.assert_allclose(truncated, full[: cut + 1], rtol=1e-12, atol=0.0, equal_nan=True)


def test_short_frame_gives_nan_columns_not_an_error(real_btc_1h_frame: pd.DataFrame) -> None:
    ind = compute_indicators(real_btc_1h_frame.iloc[:10])
    assert ind["ema_200"].isna().all()
    assert ind["rsi_14"].isna().all()
    assert ind["ret_1"].iloc[1:].notna().all()


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda f: f.drop(columns=["volume"]), "volume"),
        (lambda f: f.tz_convert("Europe/Paris"), "UTC"),
        (lambda f: f.reset_index(drop=True), "DatetimeIndex"),
        (lambda f: f.iloc[::-1], "increasing"),
        (lambda f: f.assign(close=f["close"].where(f.index != f.index[5])), r"frame\.close"),
    ],
)
def test_bad_frames_are_refused_with_the_field_named(
    real_btc_1h_frame: pd.DataFrame, mutate, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        compute_indicators(mutate(real_btc_1h_frame.iloc[:300]))


def test_unknown_interval_is_refused(real_btc_1h_frame: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="unknown interval '7h'"):
        compute_indicators(real_btc_1h_frame.iloc[:300], "7h")


# --- snapshots ---------------------------------------------------------------------------------


def test_snapshot_refuses_fewer_than_200_bars(btc_indicators: pd.DataFrame) -> None:
    short = btc_indicators.iloc[:199]
    with pytest.raises(InsufficientHistoryError, match=r"199 bar\(s\).*200 needed"):
        make_snapshot(short, symbol="BTCUSDT", interval="1h", source="store")
    with pytest.raises(InsufficientHistoryError):
        make_snapshot(btc_indicators, symbol="BTCUSDT", interval="1h", source="store", at=198)
    ok = make_snapshot(btc_indicators, symbol="BTCUSDT", interval="1h", source="store", at=199)
    assert ok.bars_of_history == MIN_HISTORY_BARS


@pytest.mark.parametrize("at", [199, 248, 5_000, 33_333, -1])
def test_snapshot_values_equal_the_frame_row(btc_indicators: pd.DataFrame, at: int) -> None:
    snap = make_snapshot(btc_indicators, symbol="BTCUSDT", interval="1h", source="store", at=at)
    t = at % len(btc_indicators)
    row = btc_indicators.iloc[t]
    assert snap.as_of == btc_indicators.index[t].to_pydatetime()
    assert snap.bars_of_history == t + 1
    assert (snap.symbol, snap.interval, snap.source) == ("BTCUSDT", "1h", "store")
    for field in ("open", "high", "low", "close", "volume", *INDICATOR_COLUMNS):
        if field in ("ret_1", "log_ret_1"):
            continue
        assert getattr(snap, field) == row[field], field

    close, high, low = btc_indicators["close"], btc_indicators["high"], btc_indicators["low"]
    h = snap.history
    assert h.return_1_bar == row["ret_1"]
    assert h.return_24_bars == pytest.approx(close.iloc[t] / close.iloc[t - 24] - 1)
    assert h.return_72_bars == pytest.approx(close.iloc[t] / close.iloc[t - 72] - 1)
    assert h.high_24_bars == high.iloc[t - 23 : t + 1].max()
    assert h.low_24_bars == low.iloc[t - 23 : t + 1].min()
    assert h.high_72_bars == high.iloc[t - 71 : t + 1].max()
    assert h.low_72_bars == low.iloc[t - 71 : t + 1].min()
    assert h.closes_last_12 == close.iloc[t - 11 : t + 1].tolist()
    ema20 = btc_indicators["ema_20"]
    assert h.ema20_slope_5_bars == pytest.approx(ema20.iloc[t] / ema20.iloc[t - 5] - 1)
    window = btc_indicators.iloc[t - 49 : t + 1].dropna(subset=["ema_200"])
    assert h.bars_above_ema200_of_last_50 == int((window["close"] > window["ema_200"]).sum())


def test_snapshot_default_is_the_last_bar(btc_indicators: pd.DataFrame) -> None:
    snap = make_snapshot(btc_indicators, symbol="BTCUSDT", interval="1h", source="store")
    assert snap.as_of == btc_indicators.index[-1].to_pydatetime()
    assert snap.bars_of_history == len(btc_indicators)


def test_table_snapshot_matches_make_snapshot(btc_indicators: pd.DataFrame) -> None:
    table = IndicatorTable(btc_indicators, symbol="BTCUSDT", interval="1h", source="store")
    for at in (300, 12_345):
        expected = make_snapshot(
            btc_indicators, symbol="BTCUSDT", interval="1h", source="store", at=at
        )
        assert table.snapshot(at) == expected


def test_nan_in_a_snapshot_field_is_an_error(btc_indicators: pd.DataFrame) -> None:
    broken = btc_indicators.iloc[:1_000].copy()
    broken.loc[broken.index[600], "atr_14"] = np.nan
    with pytest.raises(IndicatorValueError, match="atr_14"):
        make_snapshot(broken, symbol="BTCUSDT", interval="1h", source="store", at=600)
    # a NaN at another bar does not affect this one
    make_snapshot(broken, symbol="BTCUSDT", interval="1h", source="store", at=601)


def test_snapshot_position_is_validated(btc_indicators: pd.DataFrame) -> None:
    table = IndicatorTable(btc_indicators, symbol="BTCUSDT", interval="1h", source="store")
    with pytest.raises(IndexError, match="at: bar position"):
        table.snapshot(len(btc_indicators))
    with pytest.raises(TypeError, match="at: expected an integer"):
        table.snapshot(1.5)  # type: ignore[arg-type]


def test_snapshot_refuses_a_frame_without_indicators(real_btc_1h_frame: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match=r"ind_frame: missing column.*rsi_14"):
        make_snapshot(real_btc_1h_frame, symbol="BTCUSDT", interval="1h", source="store")
