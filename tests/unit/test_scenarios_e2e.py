"""isync's scenarios end to end on Maildir <-> Maildir: sync, idempotent re-run, and a
kill after every journal line with resume (run-tests.pl's -Ts loop)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.plan_tables import run_table
from tests.unit.scenario_maildir import run_everything
from tests.unit.scenarios import (
    DOOMED_SCENARIOS,
    EXPIRY_SCENARIOS,
    GENERIC_SCENARIOS,
    MAXSIZE_SCENARIOS,
    SIZE_EXPIRY_SCENARIOS,
    SOLO_SCENARIOS,
    TRASH_SCENARIOS,
    Scenario,
    scenario_ops,
)

ALL = (
    GENERIC_SCENARIOS
    + EXPIRY_SCENARIOS
    + SOLO_SCENARIOS
    + MAXSIZE_SCENARIOS
    + SIZE_EXPIRY_SCENARIOS
    + DOOMED_SCENARIOS
    + TRASH_SCENARIOS
)


@pytest.mark.parametrize("sc", ALL, ids=lambda sc: sc.name)
def test_decision_table(sc: Scenario) -> None:
    ops, expiry = scenario_ops(sc)
    run_table(
        sc.header, sc.rows, ops, sc.out_header, sc.deltas, expiry,
        flipped=sc.flipped, fake_expunge=sc.fake_expunge,
    )  # fmt: skip


@pytest.mark.parametrize("sc", ALL, ids=lambda sc: sc.name)
def test_interrupted_at_every_step(tmp_path: Path, sc: Scenario) -> None:
    steps = run_everything(tmp_path, sc)
    assert steps >= 0
