"""JSON read from files syncmail keeps (notes, caches, token records) or is sent.

``json.loads`` raises ``RecursionError`` for a document nested a few thousand levels
deep, which no ``except ValueError`` catches: a damaged cache file would end the run
with an internal error.  ``loads`` makes every document it cannot take a ``ValueError``.
"""

from __future__ import annotations

import json
from typing import Any


def loads(data: str | bytes) -> Any:
    """``json.loads(data)``; ``ValueError`` for anything it cannot read, deep nesting too."""
    try:
        return json.loads(data)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None
