"""Portfolios (wired to persistence/portfolios.py once it lands)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/portfolios", tags=["portfolio"])
