"""`make bench`: run every `bench/bench_*.py` module's `main()`, each in a fresh interpreter,
one after another. Every ratio a module prints compares two measurements it took in the same
run on the same machine; a fresh process keeps one module's heap (a year of candles, a 50-stream
API test) from weighing on the next one's timings."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
import time
from pathlib import Path


def main() -> int:
    here = Path(__file__).resolve().parent
    names = sorted(m.name for m in pkgutil.iter_modules([str(here)]) if m.name.startswith("bench_"))
    only = set(sys.argv[1:])
    unknown = only - set(names)
    if unknown:
        print(f"unknown benchmark(s): {', '.join(sorted(unknown))}; have {', '.join(names)}")
        return 2
    failures = 0
    for name in names:
        if only and name not in only:
            continue
        print(f"\n=== {name} ===", flush=True)
        started = time.perf_counter()
        # A failing benchmark must not hide the others' figures: report it and go on.
        code = f"import bench.{name} as m; m.main()"
        done = subprocess.run([sys.executable, "-c", code], cwd=here.parent, check=False)
        if done.returncode != 0:
            failures += 1
            print(f"!! {name} failed with exit code {done.returncode}", flush=True)
        print(f"--- {name}: {time.perf_counter() - started:.1f}s", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
