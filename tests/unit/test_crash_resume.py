"""Crash at every journal step, then resume: nothing lost, nothing doubled (run-tests.pl -Ts).

The engine's test hook ``SYNCMAIL_TEST_CRASH_AFTER=N`` ends the process with
``os._exit(100)`` right after the N-th journal line; the next run replays the journal.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.unit.engine_support import (
    crash_run,
    deliver,
    files,
    set_flags,
    snapshot,
    sync,
    write_config,
)


def _scenario_mixed(root: Path) -> Path:
    """Synced pairs, then changes of every kind on both sides."""
    cfg = write_config(root, "Create Both\nExpunge Both")
    for subject in "ABCD":
        deliver(root, "far", subject)
    deliver(root, "near", "E", "S")
    result = sync(cfg)
    assert not result.errors
    far, near = files(root, "far"), files(root, "near")
    set_flags(far["A"], "F")
    set_flags(near["B"], "S")
    far["C"].unlink()
    set_flags(near["D"], "T")
    deliver(root, "far", "F", "S")
    deliver(root, "far", "G")
    deliver(root, "far", "X", "T")  # doomed: deleted before it was ever copied
    deliver(root, "near", "H", "R")
    return cfg


def _scenario_initial(root: Path) -> Path:
    """A first sync of new boxes: UIDVALIDITY line, copies both ways."""
    cfg = write_config(root, "Create Both")
    for subject in "ABC":
        deliver(root, "far", subject, "S" if subject == "B" else "")
    deliver(root, "near", "N1")
    deliver(root, "near", "N2", "F")
    return cfg


@pytest.mark.parametrize("scenario", [_scenario_initial, _scenario_mixed])
def test_crash_at_every_journal_step(tmp_path: Path, scenario: Callable[[Path], Path]) -> None:
    ref_root = tmp_path / "reference"
    ref_root.mkdir()
    ref_cfg = scenario(ref_root)
    assert not sync(ref_cfg).errors
    want_far, want_near = snapshot(ref_root, "far"), snapshot(ref_root, "near")
    assert want_far == want_near

    step = 0
    while True:
        step += 1
        assert step < 100, "the crash hook never let the run finish"
        root = tmp_path / f"step{step}"
        root.mkdir()
        cfg = scenario(root)
        code = crash_run(cfg, step)
        assert code in (0, 100), code
        if code == 0:
            break
        resumed = sync(cfg)
        assert not resumed.errors, (step, resumed.errors)
        assert snapshot(root, "far") == want_far, step
        assert snapshot(root, "near") == want_near, step
        # And the state is settled: one more run changes no mail.
        again = sync(cfg)
        assert not again.far_changed and not again.near_changed, step
        assert not (root / "near" / "INBOX" / ".mbsyncstate.journal").exists()
    assert step > 5  # the scenario really journals several steps
