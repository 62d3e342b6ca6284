"""`cryptofirm --help` must stay cheap: no sub-command may import pandas, LangGraph, numba or
python-binance at import time (each costs 0.5–2 s of start-up for every command)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("pandas", "langgraph", "langchain_core", "numba", "pandas_ta", "binance")

PROBE = """
import io, json, sys
from contextlib import redirect_stdout
from cli.main import app
with redirect_stdout(io.StringIO()) as out:
    try:
        app({args!r})
    except SystemExit:
        pass
loaded = sorted({{m.split('.')[0] for m in sys.modules}} & set({heavy!r}))
print(json.dumps({{"loaded": loaded, "help": out.getvalue()}}))
"""


def _probe(args: list[str]) -> dict[str, object]:
    code = PROBE.format(args=args, heavy=HEAVY)
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["analyze", "--help"],
        ["data", "--help"],
        ["backtest", "--help"],
        ["portfolio", "--help"],
        ["runs", "--help"],
    ],
)
def test_help_imports_no_heavy_module(args: list[str]) -> None:
    result = _probe(args)
    assert "Usage" in str(result["help"])
    assert result["loaded"] == [], f"`cryptofirm {' '.join(args)}` imported {result['loaded']}"


def test_probe_detects_a_heavy_import() -> None:
    """The probe itself works: importing the desk does load LangGraph."""
    code = "import sys, graph.graph; print(sorted(m for m in sys.modules if m == 'langgraph'))"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert "langgraph" in done.stdout
