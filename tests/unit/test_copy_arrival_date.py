"""CopyArrivalDate between two Maildirs: the copy keeps the source file's mtime."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from tests.unit.engine_support import deliver, files, sync, write_config

OLD = 1_500_000_000.0


@pytest.mark.parametrize("keep", [True, False])
def test_copy_arrival_date_both_ways(tmp_path: Path, keep: bool) -> None:
    setting = "yes" if keep else "no"
    cfg = write_config(tmp_path, f"Create Both\nCopyArrivalDate {setting}")
    for side, subject in (("far", "F"), ("near", "N")):
        path = deliver(tmp_path, side, subject, "S")
        os.utime(path, (OLD, OLD))
    before = time.time()
    assert not sync(cfg).errors
    pulled = files(tmp_path, "near")["F"].stat().st_mtime
    pushed = files(tmp_path, "far")["N"].stat().st_mtime
    if keep:
        assert (pulled, pushed) == (OLD, OLD)
    else:
        assert pulled >= before - 1 and pushed >= before - 1
