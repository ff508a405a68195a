"""Print, for each fault of the hostile test server, what the real ``syncmail`` does:
exit code, wall time, peak RSS and the error line (the table of issue 8's closing note).

Usage: python3 scripts/hostile_report.py   (from the repository root)
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.hostile.conftest import run_syncmail, write_rc  # noqa: E402
from tests.hostile.server import Box, HostileServer, Message  # noqa: E402
from tests.hostile.test_hostile_server import FAILING, messages  # noqa: E402


def _row(fault: str) -> str:
    tmp = Path(tempfile.mkdtemp(prefix="syncmail-hostile-"))
    bad = Box("Bad", messages(3), fault=fault)
    boxes = [Box("INBOX", messages(3)), bad, Box("Zok", messages(2))]
    with HostileServer(boxes) as server:
        run = run_syncmail(write_rc(tmp, server.port, timeout=3), "-a")
    said = [ln for ln in run.stderr.splitlines() if ln.startswith("Error") or "ignored" in ln]
    line = said[-1] if said else ""
    took = f"{run.seconds:.1f} s | {run.peak_rss_mb:.0f} MB"
    return f"| {fault} | {run.returncode} | {took} | {line} |"


def _large() -> str:
    line = b"0123456789abcdef" * 4 + b"\r\n"
    body = b"Subject: big\r\n\r\n" + line * (160 * 1024 * 1024 // len(line))
    tmp = Path(tempfile.mkdtemp(prefix="syncmail-hostile-"))
    with HostileServer([Box("INBOX", [Message(1, body)])]) as server:
        run = run_syncmail(write_rc(tmp, server.port, timeout=20), "-a")
    return f"| 160 MiB body | {run.returncode} | {run.seconds:.1f} s | {run.peak_rss_mb:.0f} MB | |"


def main() -> None:
    print("| fault | exit | wall | peak RSS | last error or warning |")
    print("|---|--:|--:|--:|---|")
    for fault in [c.fault for c in FAILING] + ["out_of_order", "size_lies", "unasked_uids"]:
        print(_row(fault), flush=True)
    print(_large())


if __name__ == "__main__":
    main()
