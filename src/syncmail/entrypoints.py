"""The ``syncmail`` entry points of the installed distributions, found cheaply.

``importlib.metadata`` costs about 15 ms to import (it brings in ``email``, ``zipfile``
and ``csv``) on every run, and a no-change sync takes little more than that.  The
entry points live in plain ``entry_points.txt`` files of the ``*.dist-info`` /
``*.egg-info`` directories on ``sys.path``, which a directory listing finds.  A path
entry that is not a directory (a zip file) sends the whole search to
``importlib.metadata``, which can read those.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Iterable
from typing import Any

from syncmail.record import record

__all__ = ["EntryPoint", "entry_points"]

_SUFFIXES = (".dist-info", ".egg-info")


@record(frozen=True)
class EntryPoint:
    """``name = value`` of one group, ``value`` being ``module[:attr.attr]``."""

    name: str
    value: str
    # The distribution's metadata directory; None when importlib.metadata found it.
    path: str | None = None
    dist: Any = None

    def load(self) -> Any:
        module_name, _, attrs = self.value.partition(":")
        obj: Any = importlib.import_module(module_name.strip())
        for attr in filter(None, attrs.strip().split(".")):
            obj = getattr(obj, attr)
        return obj

    def distribution(self) -> tuple[str, str] | None:
        """(Name, Version) of the distribution, from its metadata file; None if unknown."""
        if self.dist is not None:
            return str(self.dist.metadata["Name"]), str(self.dist.version)
        if self.path is None:
            return None
        for meta in ("METADATA", "PKG-INFO"):
            fields = _metadata_fields(os.path.join(self.path, meta))
            if "name" in fields:
                return fields["name"], fields.get("version", "")
        return None


def entry_points(group: str) -> list[EntryPoint]:
    """The entry points of ``group``, sorted by name; a distribution found twice on
    ``sys.path`` counts once (the first, as Python imports it)."""
    paths = [p or "." for p in sys.path]
    if any(os.path.isfile(p) for p in paths):
        return _from_importlib(group)  # a zip or egg file on the path
    found: list[EntryPoint] = []
    seen: set[str] = set()
    for meta_dir in _metadata_dirs(paths):
        dist = _dist_key(os.path.basename(meta_dir))
        if dist in seen:
            continue
        seen.add(dist)
        found.extend(_read_group(meta_dir, group))
    return sorted(found, key=lambda e: e.name)


def _metadata_dirs(paths: Iterable[str]) -> Iterable[str]:
    for path in paths:
        try:
            names = sorted(os.listdir(path))
        except OSError:
            continue
        for name in names:
            if name.endswith(_SUFFIXES):
                yield os.path.join(path, name)


def _dist_key(dirname: str) -> str:
    """``syncmail`` of ``syncmail-0.1.0.dist-info``, normalised as pip normalises names."""
    stem = dirname.rsplit(".", 1)[0]
    name = stem.split("-", 1)[0]
    return name.lower().replace("-", "_").replace(".", "_")


def _read_group(meta_dir: str, group: str) -> list[EntryPoint]:
    try:
        with open(os.path.join(meta_dir, "entry_points.txt"), encoding="utf-8") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError):
        return []
    out: list[EntryPoint] = []
    current = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = line[1:-1].strip()
            continue
        if current == group and "=" in line:
            name, _, value = line.partition("=")
            out.append(EntryPoint(name.strip(), value.strip(), meta_dir))
    return out


def _metadata_fields(path: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                if not line.strip():
                    break  # the body starts
                key, sep, value = line.partition(":")
                if sep and key.lower() in ("name", "version"):
                    fields.setdefault(key.lower(), value.strip())
    except OSError:
        pass
    return fields


def _from_importlib(group: str) -> list[EntryPoint]:
    import importlib.metadata

    return sorted(
        (
            EntryPoint(ep.name, ep.value, None, ep.dist)
            for ep in importlib.metadata.entry_points(group=group)
        ),
        key=lambda e: e.name,
    )
