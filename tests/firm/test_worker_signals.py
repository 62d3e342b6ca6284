"""`cryptofirm worker` stops gracefully on SIGTERM and SIGINT: exit status 0 within seconds,
its registration removed (the run loop is started without procrastinate's signal handlers,
so the process installs its own)."""

from __future__ import annotations

import signal
import subprocess

import pytest
from firm_helpers import FirmDb, Processes, registered_workers, wait_until

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.timeout(300)]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_the_worker_gracefully(
    firm_db: FirmDb, processes: Processes, sig: signal.Signals
) -> None:
    worker = processes.worker()
    wait_until(lambda: len(registered_workers(firm_db)) == 1, 120, "the worker to register")
    worker.send_signal(sig)
    try:
        status = worker.wait(timeout=20)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"{sig.name}: the worker did not stop within 20 s") from None
    log = (firm_db.workdir / "worker-0.log").read_text()
    assert status == 0, log
    assert registered_workers(firm_db) == [], log
