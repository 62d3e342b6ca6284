"""Write a backtest report to a directory: trades.csv, equity.csv, metrics.json."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from graph.backtest.report import BacktestReport

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
    metrics_path = directory / "metrics.json"
    payload = {
        "params": report.params.model_dump(mode="json"),
        "model": report.model,
        "data_source": report.data_source,
        "partial": report.partial,
        "stopped": report.stopped,
        "metrics": report.metrics.model_dump(mode="json") if report.metrics else None,
        "baselines": {k: v.model_dump(mode="json") for k, v in report.baselines.items()},
        "decision_spread": report.decision_spread.model_dump(),
        "usage": report.usage.model_dump(),
        "warnings": report.warnings,
    }
    metrics_path.write_text(json.dumps(payload, indent=2))
    return [trades_path, equity_path, metrics_path]
