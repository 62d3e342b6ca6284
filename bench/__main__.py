"""`make bench`: run every `bench/bench_*.py` module's `main()` in one process, one after
another, so each ratio compares two measurements taken in the same run on the same machine."""

from __future__ import annotations

import importlib
import pkgutil
import sys
import time
from pathlib import Path


def main() -> int:
    here = Path(__file__).resolve().parent
    names = sorted(m.name for m in pkgutil.iter_modules([str(here)]) if m.name.startswith("bench_"))
    only = set(sys.argv[1:])
    failures = 0
    for name in names:
        if only and name not in only:
            continue
        print(f"\n=== {name} ===", flush=True)
        started = time.perf_counter()
        try:
            importlib.import_module(f"bench.{name}").main()
        except Exception as exc:  # a failing benchmark must not hide the others' figures
            failures += 1
            print(f"!! {name} failed: {type(exc).__name__}: {exc}", flush=True)
        print(f"--- {name}: {time.perf_counter() - started:.1f}s", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
