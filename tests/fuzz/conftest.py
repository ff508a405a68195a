"""Hypothesis settings for the fuzz tests: small and repeatable in CI, long on request.

By default every target runs a fixed, derandomized set of examples (a few seconds each),
so a CI failure reproduces exactly. ``SYNCMAIL_FUZZ_EXAMPLES=N`` runs N examples per
target with a fresh random seed, for a long local hunt::

    SYNCMAIL_FUZZ_EXAMPLES=20000 python3 -m pytest -q tests/fuzz
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

_long = os.environ.get("SYNCMAIL_FUZZ_EXAMPLES", "").strip()

settings.register_profile(
    "syncmail-ci",
    max_examples=200,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "syncmail-long",
    max_examples=int(_long) if _long.isdigit() else 200,
    derandomize=False,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
settings.load_profile("syncmail-long" if _long else "syncmail-ci")
