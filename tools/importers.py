"""Read candle files into candle frames and import them into the store in one transaction.

Formats: Binance kline CSV/zip (data.binance.vision layout: no header, 12 columns, ms or —
in newer files — µs open times), freqtrade feather and json (`[[ms, o, h, l, c, v], …]`), and a
generic CSV with a header (`datetime|date|open_time|timestamp, open, high, low, close, volume`,
e.g. basana's daily file). Symbol and interval come from the file name unless given.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from tools.candle_frame import FRAME_COLUMNS, OHLCV, RejectedRow, validate_candles
from tools.candle_store import CandleStore, Overwrite, StoreReport
from tools.intervals import INTERVAL_MS, interval_ms

IMPORT_SOURCE = "import"
KLINE_COLUMNS = 12
# Epoch ms stay below 1e14 until the year 5138; µs timestamps are 1000× larger.
MICROSECOND_THRESHOLD = 10**14
KNOWN_QUOTES = ("FDUSD", "USDT", "USDC", "BUSD", "TUSD", "USD", "EUR", "BTC", "ETH", "BNB")
INTERVAL_ALIASES = {"day": "1d", "daily": "1d", "hour": "1h", "hourly": "1h", "week": "1w"}
TIME_HEADER_NAMES = ("datetime", "date", "open_time", "timestamp", "time")
SYMBOL_PATTERN = re.compile(r"^[A-Z0-9]{5,20}$")


class ImportFormatError(ValueError):
    """The file cannot be read as candles; nothing was written."""


class BadRowsError(ImportFormatError):
    """Rows of the file are unreadable or insane; nothing was written (`--skip-bad` imports
    the good rows). `rows` holds the first examples, `count` how many there are."""

    def __init__(self, message: str, rows: list[RejectedRow], count: int) -> None:
        super().__init__(message)
        self.rows = rows
        self.count = count


MAX_BAD_EXAMPLES = 5


def normalise_symbol(symbol: str) -> str:
    """`btc/usdt`, `BTC_USDT`, `BTC-USDT` → `BTCUSDT`; anything else is refused."""
    compact = re.sub(r"[/_\-]", "", symbol.strip()).upper()
    if not SYMBOL_PATTERN.match(compact):
        raise ValueError(
            f"symbol {symbol!r} is not a Binance spot symbol (expected e.g. BTCUSDT or BTC/USDT)"
        )
    return compact


def _stem(path: Path) -> str:
    name = path.name
    for suffix in (".feather", ".json", ".csv", ".zip", ".gz"):
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
    return name


def infer_symbol_interval(path: Path) -> tuple[str | None, str | None]:
    """Best guess of (symbol, interval) from a file name; None where the name says nothing."""
    stem = _stem(path)
    freqtrade = re.match(r"^([A-Za-z0-9]+)_([A-Za-z0-9]+)-(\d+[mhdwM])(?:-\w+)?$", stem)
    if freqtrade:
        return (freqtrade[1] + freqtrade[2]).upper(), freqtrade[3]
    vision = re.match(r"^([A-Za-z0-9]+)-(\d+[mhdwM])-\d{4}-\d{2}(?:-\d{2})?$", stem)
    if vision:
        return vision[1].upper(), vision[2]
    symbol: str | None = None
    interval: str | None = None
    for token in re.split(r"[_\-.\s]+", stem):
        lowered = token.lower()
        if interval is None and (token in INTERVAL_MS or lowered in INTERVAL_ALIASES):
            interval = token if token in INTERVAL_MS else INTERVAL_ALIASES[lowered]
            continue
        upper = token.upper()
        if symbol is None and any(
            upper.endswith(q) and len(upper) > len(q) and upper.isalnum() for q in KNOWN_QUOTES
        ):
            symbol = upper
    return symbol, interval


def _to_ms(values: np.ndarray) -> np.ndarray:
    times = values.astype("int64")
    if len(times) and int(times.max()) >= MICROSECOND_THRESHOLD:
        return times // 1000
    return times


def _numeric(frame: pd.DataFrame, first_line: int) -> pd.DataFrame:
    """Columns to numbers; a `line` column (file line of each row, `first_line` for row 0) and
    a `bad` column naming the first unreadable cell of a row ('' when it reads)."""
    frame = frame.copy()
    frame["line"] = np.arange(first_line, first_line + len(frame), dtype="int64")
    frame["bad"] = ""
    for name in FRAME_COLUMNS:
        raw = frame[name]
        converted = pd.to_numeric(raw, errors="coerce")
        bad = converted.isna() & (raw.notna() | (name == "open_time"))
        describe = raw.astype(str).map(lambda v, n=name: f"{n}={v!r}")
        frame["bad"] = frame["bad"].mask(bad & (frame["bad"] == ""), describe)
        frame[name] = converted
    times = frame["open_time"].fillna(0).to_numpy()
    frame["open_time"] = _to_ms(times)
    return frame


def _bad_rows(frame: pd.DataFrame) -> tuple[pd.DataFrame, list[RejectedRow], int]:
    """Split off the rows with an unreadable cell: (good rows, first examples, count)."""
    bad = frame["bad"] != ""
    examples = []
    for record in frame.loc[bad].head(MAX_BAD_EXAMPLES).to_dict("records"):
        field, _, value = str(record["bad"]).partition("=")
        examples.append(
            RejectedRow(
                open_time=None,
                reason="not a number" if field != "open_time" else "not a time",
                line=int(record["line"]),
                field=field,
                value=value.strip("'\""),
            )
        )
    good = frame.loc[~bad].drop(columns="bad").reset_index(drop=True)
    good["open_time"] = good["open_time"].astype("int64")
    return good, examples, int(bad.sum())


def _read_kline_csv(text: str, where: str) -> pd.DataFrame:
    try:
        raw = pd.read_csv(io.StringIO(text), header=None, dtype=str)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise ImportFormatError(f"{where}: not a kline CSV ({exc})".splitlines()[0]) from None
    if raw.shape[1] != KLINE_COLUMNS:
        raise ImportFormatError(
            f"{where}: expected {KLINE_COLUMNS} columns (Binance kline layout), "
            f"found {raw.shape[1]}"
        )
    frame = raw.iloc[:, :6].copy()
    frame.columns = list(FRAME_COLUMNS)
    return _numeric(frame, first_line=1)


def _read_header_csv(text: str, where: str) -> pd.DataFrame:
    try:
        raw = pd.read_csv(io.StringIO(text), dtype=str)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise ImportFormatError(f"{where}: unreadable CSV ({exc})".splitlines()[0]) from None
    raw.columns = [str(c).strip().lower() for c in raw.columns]
    time_column = next((c for c in TIME_HEADER_NAMES if c in raw.columns), None)
    missing = [c for c in OHLCV if c not in raw.columns]
    if time_column is None or missing:
        wanted = ", ".join(missing or ["a time column (" + "|".join(TIME_HEADER_NAMES) + ")"])
        raise ImportFormatError(f"{where}: CSV header lacks {wanted}")
    frame = raw[[time_column, *OHLCV]].copy()
    frame.columns = list(FRAME_COLUMNS)
    stamps = frame["open_time"]
    if stamps.str.fullmatch(r"\s*\d+\s*").all():
        return _numeric(frame, first_line=2)
    parsed = pd.to_datetime(stamps, utc=True, errors="coerce", format="mixed")
    unreadable = parsed.isna()
    epoch_ms = (parsed - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(milliseconds=1)
    frame["open_time"] = epoch_ms.astype("float64").where(~unreadable, np.nan)
    out = _numeric(frame, first_line=2)
    out["bad"] = out["bad"].mask(
        unreadable.to_numpy(), stamps.astype(str).map(lambda v: f"{time_column}={v!r}")
    )
    return out


def _read_csv_text(text: str, where: str) -> pd.DataFrame:
    first_line = text.lstrip().split("\n", 1)[0]
    first_field = first_line.split(",", 1)[0].strip()
    if first_field.isdigit():
        return _read_kline_csv(text, where)
    return _read_header_csv(text, where)


def _read_zip(path: Path) -> pd.DataFrame:
    try:
        with zipfile.ZipFile(path) as archive:
            members = [n for n in archive.namelist() if n.lower().endswith(".csv")]
            if not members:
                raise ImportFormatError(f"{path.name}: zip holds no .csv file")
            frames = [
                _read_csv_text(archive.read(n).decode("utf-8"), f"{path.name}:{n}")
                for n in sorted(members)
            ]
    except zipfile.BadZipFile:
        raise ImportFormatError(f"{path.name}: not a valid zip archive") from None
    return pd.concat(frames, ignore_index=True)


def _read_feather(path: Path) -> pd.DataFrame:
    try:
        raw = pd.read_feather(path)
    except Exception as exc:  # pyarrow raises several unrelated types for a bad file
        raise ImportFormatError(f"{path.name}: not a feather file ({exc})".splitlines()[0]) from exc
    missing = [c for c in ("date", *OHLCV) if c not in raw.columns]
    if missing:
        raise ImportFormatError(f"{path.name}: feather file lacks column(s) {', '.join(missing)}")
    frame = raw[["date", *OHLCV]].copy()
    frame.columns = list(FRAME_COLUMNS)
    dates = pd.to_datetime(frame["open_time"], utc=True)
    frame["open_time"] = dates.dt.as_unit("ms").astype("int64").to_numpy()
    return _numeric(frame, first_line=1)


def _read_json(path: Path) -> pd.DataFrame:
    try:
        rows = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ImportFormatError(f"{path.name}: not valid JSON ({exc})") from None
    if not isinstance(rows, list):
        raise ImportFormatError(f"{path.name}: expected a JSON list of [ms, o, h, l, c, v] rows")
    for number, row in enumerate(rows, start=1):
        if not isinstance(row, list) or len(row) != len(FRAME_COLUMNS):
            raise ImportFormatError(
                f"{path.name}: row {number} is not a [ms, open, high, low, close, volume] list"
            )
    frame = pd.DataFrame(rows, columns=list(FRAME_COLUMNS), dtype=object)
    return _numeric(frame, first_line=1)


READERS: dict[str, Callable[[Path], pd.DataFrame]] = {
    ".zip": _read_zip,
    ".feather": _read_feather,
    ".json": _read_json,
    ".csv": lambda p: _read_csv_text(p.read_text(encoding="utf-8"), p.name),
}


@dataclass
class CandleFile:
    symbol: str
    interval: str
    frame: pd.DataFrame
    """Readable rows: candle frame plus `line` (the row's line in the file, 1-based)."""
    path: Path
    unreadable: list[RejectedRow]
    """First examples of rows with a cell that is not a number or not a time."""
    unreadable_count: int = 0


def _check_spacing(frame: pd.DataFrame, interval: str, where: str) -> None:
    """Refuse a file whose bar spacing contradicts the interval (e.g. 1h data as 1d)."""
    times = np.unique(frame["open_time"].to_numpy())
    if len(times) < 3:
        return
    typical = int(np.median(np.diff(times)))
    if typical != interval_ms(interval):
        raise ImportFormatError(
            f"{where}: bars are {typical // 60_000} minutes apart, which is not interval "
            f"{interval!r}; pass the right --interval"
        )


def read_candle_file(
    path: Path, *, symbol: str | None = None, interval: str | None = None
) -> CandleFile:
    """Parse a candle file; raise `ImportFormatError`/`ValueError` naming what is wrong."""
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {path}")
    suffix = next((s for s in READERS if path.name.lower().endswith(s)), None)
    if suffix is None:
        raise ImportFormatError(
            f"{path.name}: unsupported file type; expected one of {', '.join(READERS)}"
        )
    guessed_symbol, guessed_interval = infer_symbol_interval(path)
    chosen_symbol = symbol or guessed_symbol
    chosen_interval = interval or guessed_interval
    if chosen_symbol is None:
        raise ValueError(f"cannot infer the symbol from file name {path.name!r}; pass --symbol")
    if chosen_interval is None:
        raise ValueError(f"cannot infer the interval from file name {path.name!r}; pass --interval")
    interval_ms(chosen_interval)  # raises UnknownIntervalError naming the interval
    chosen_symbol = normalise_symbol(chosen_symbol)  # refuse a bad symbol before parsing
    frame, unreadable, count = _bad_rows(READERS[suffix](path))
    if frame.empty and not count:
        raise ImportFormatError(f"{path.name}: no candles in file")
    _check_spacing(frame, chosen_interval, path.name)
    return CandleFile(chosen_symbol, chosen_interval, frame, path, unreadable, count)


def import_file(
    store: CandleStore,
    path: Path,
    *,
    symbol: str | None = None,
    interval: str | None = None,
    now: int | None = None,
    skip_bad: bool = False,
    replace: bool = False,
) -> StoreReport:
    """Read, validate and store a file in one transaction: all of it or nothing.

    A row that cannot be read or breaks the OHLC rules raises `BadRowsError` naming it (line,
    field, value) before anything is written; with `skip_bad` the good rows are imported and
    the bad ones reported. Stored candles with other values are reported as conflicts and kept,
    unless `replace`."""
    candles = read_candle_file(path, symbol=symbol, interval=interval)
    return store_file(store, candles, now=now, skip_bad=skip_bad, replace=replace)


def store_file(
    store: CandleStore,
    candles: CandleFile,
    *,
    now: int | None = None,
    skip_bad: bool = False,
    replace: bool = False,
) -> StoreReport:
    """`import_file` for a file already read (the CLI reads first to size its progress bar)."""
    checked = validate_candles(candles.frame, candles.interval, now=now)
    bad = [*candles.unreadable, *checked.examples][:MAX_BAD_EXAMPLES]
    bad_count = candles.unreadable_count + checked.rejected
    if bad_count and not skip_bad:
        first = bad[0]
        unit = "row" if candles.path.name.lower().endswith(".json") else "line"
        raise BadRowsError(
            f"{candles.path.name}: {first.describe().replace('line', unit, 1)}"
            f"{f' (and {bad_count - 1} more bad rows)' if bad_count > 1 else ''}; nothing "
            f"imported (--skip-bad imports the good rows and reports the rest)",
            bad,
            bad_count,
        )
    overwrite: Overwrite = "always" if replace else "never"
    report = store.write(
        candles.symbol,
        candles.interval,
        checked.valid,
        source=IMPORT_SOURCE,
        now=now,
        overwrite=overwrite,
    )
    report.rows_in = len(candles.frame) + candles.unreadable_count
    report.rejected = bad_count
    report.rejected_examples = bad
    report.duplicates = checked.duplicates
    report.forming_dropped = checked.forming_dropped
    return report
