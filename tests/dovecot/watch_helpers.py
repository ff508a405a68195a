"""Running ``syncmail watch`` as a real process: started, awaited (READY=1 over a real
NOTIFY_SOCKET, as systemd would see it) and stopped by real signals."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

READY_WAIT = 30.0


def wait_for(what: Callable[[], Any], timeout: float = 10.0, step: float = 0.05) -> Any:
    """``what()``'s first true value within ``timeout`` seconds, else AssertionError."""
    end = time.monotonic() + timeout
    while True:
        got = what()
        if got:
            return got
        if time.monotonic() > end:
            raise AssertionError(f"not within {timeout} s: {what}")
        time.sleep(step)


class WatchProcess:
    """``python -m syncmail -c CONFIG watch ARGS`` with stderr in ``root/watch.log``."""

    def __init__(self, root: Path, config: Path, *args: str, env: dict[str, str] | None = None):
        self.root = root
        self.log_path = root / f"watch-{time.monotonic_ns()}.log"
        self.sock_path = str(root / f"notify-{time.monotonic_ns()}.sock")
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify.bind(self.sock_path)
        full_env = {**os.environ, "NOTIFY_SOCKET": self.sock_path, **(env or {})}
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            # faulthandler: a watcher that hangs shows where, on SIGABRT.
            [sys.executable, "-X", "faulthandler", "-m", "syncmail", "-c", str(config), "watch"]
            + list(args),
            stdout=subprocess.DEVNULL,
            stderr=self._log,
            env=full_env,
        )

    def ready(self, timeout: float = READY_WAIT) -> list[str]:
        """Wait for READY=1; every state message received until then."""
        got: list[str] = []
        self.notify.settimeout(timeout)
        while True:
            try:
                data = self.notify.recv(4096).decode()
            except TimeoutError:
                raise AssertionError(f"no READY=1 within {timeout} s:\n{self.log()}") from None
            got.append(data)
            if "READY=1" in data.split("\n"):
                return got

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def send(self, signum: int) -> None:
        self.proc.send_signal(signum)

    def stop(self, signum: int = signal.SIGTERM, timeout: float = 15.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signum)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.send_signal(signal.SIGABRT)  # faulthandler: where it hangs
            time.sleep(0.5)
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"watch did not stop on signal {signum}:\n{self.log()}") from None
        self._log.close()
        self.notify.close()
        return code

    def __enter__(self) -> WatchProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._log.close()
        self.notify.close()
