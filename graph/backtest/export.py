"""Write a backtest report to a directory: trades.csv, equity.csv, decisions.csv, metrics.json.

`decisions.csv` has one row per decision: `time` is when the desk decided (the decision bar's
close, UTC), then what it decided and where each input came from and when it was public
(`sentiment_as_of`, `tokenomics_as_of` are always before `time`), in real values even for a
blind run (the `blind` column says whether the desk saw them masked).
"""

from __future__ import annotations

import csv
import json
from datetime import datetime, timedelta
from pathlib import Path

from graph.backtest.report import BacktestReport
from tools.intervals import interval_ms

TRADE_COLUMNS = [
    "symbol",
    "entry_time",
    "exit_time",
    "entry_price",
    "exit_price",
    "quantity",
    "pnl",
    "fees",
    "return_pct",
    "exit_reason",
]
DECISION_COLUMNS = [
    "time",
    "action",
    "size_pct",
    "price_source",
    "sentiment_as_of",
    "fear_greed",
    "headline_count",
    "tokenomics_as_of",
    "blind",
    "bar_open",
    "approved",
    "sentiment_source",
    "tokenomics_source",
]


def _iso(value: datetime | None) -> str:
    return value.isoformat() if value is not None else ""


def _opt(value: object) -> str:
    return "" if value is None else str(value)


def write_decisions(report: BacktestReport, path: Path) -> Path:
    bar = timedelta(milliseconds=interval_ms(report.params.interval))
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(DECISION_COLUMNS)
        for d in report.decision_log:
            i = d.inputs
            writer.writerow(
                [
                    _iso(d.at + bar),
                    d.action,
                    repr(d.size_pct),
                    _opt(i.price_source if i else report.data_source),
                    _iso(i.sentiment_as_of if i else None),
                    _opt(i.fear_greed if i else None),
                    _opt(i.headline_count if i else None),
                    _iso(i.tokenomics_as_of if i else None),
                    str(i.blind if i else report.blind).lower(),
                    _iso(d.at),
                    str(d.approved).lower(),
                    _opt(i.sentiment_source if i else None),
                    _opt(i.tokenomics_source if i else None),
                ]
            )
    return path


def export_report(report: BacktestReport, directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    trades_path = directory / "trades.csv"
    with trades_path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=TRADE_COLUMNS)
        writer.writeheader()
        for trade in report.trades:
            writer.writerow(trade.model_dump(mode="json"))
    equity_path = directory / "equity.csv"
    with equity_path.open("w", newline="") as fh:
        writer_eq = csv.writer(fh)
        writer_eq.writerow(["time", "equity"])
        for at, value in report.equity_curve:
            writer_eq.writerow([at.isoformat(), repr(value)])
    decisions_path = write_decisions(report, directory / "decisions.csv")
    metrics_path = directory / "metrics.json"
    payload = {
        "params": report.params.model_dump(mode="json"),
        "model": report.model,
        "data_source": report.data_source,
        "blind": report.blind,
        "memorisation_note": report.memorisation_note,
        "partial": report.partial,
        "stopped": report.stopped,
        "metrics": report.metrics.model_dump(mode="json") if report.metrics else None,
        "baselines": {k: v.model_dump(mode="json") for k, v in report.baselines.items()},
        "decision_spread": report.decision_spread.model_dump(),
        "usage": report.usage.model_dump(),
        "warnings": report.warnings,
    }
    metrics_path.write_text(json.dumps(payload, indent=2))
    return [trades_path, equity_path, decisions_path, metrics_path]
