"""Backtests (wired to graph/backtest once its run API lands)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/backtests", tags=["backtest"])
