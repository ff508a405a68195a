"""Every hook is documented: a full docstring in hookspecs.py and a mention in docs/plugins.md."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from syncmail import PROJECT_NAME, hookspecs

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs" / "plugins.md"
SPEC_MARK = f"{PROJECT_NAME}_spec"


def _specs() -> list[tuple[str, object]]:
    found = [
        (name, fn)
        for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
        if hasattr(fn, SPEC_MARK)
    ]
    assert found, "no hookspecs found"
    return found


@pytest.mark.parametrize(("name", "spec"), _specs(), ids=[n for n, _ in _specs()])
def test_hookspec_docstring_follows_the_template(name: str, spec: object) -> None:
    doc = inspect.getdoc(spec)
    assert doc, f"{name} has no docstring"
    assert ":return:" in doc, f"{name}: say what to return"
    assert "firstresult" in doc, f"{name}: say whether it is firstresult"
    for param in inspect.signature(spec).parameters:  # type: ignore[arg-type]
        assert f":param {param}:" in doc, f"{name}: argument {param} is not documented"
    firstresult = getattr(spec, SPEC_MARK)["firstresult"]
    assert ("Not firstresult" not in doc) == firstresult, f"{name}: firstresult text is wrong"


def test_every_hook_is_in_the_plugin_docs() -> None:
    text = DOCS.read_text()
    missing = [name for name, _ in _specs() if f"`{name}" not in text]
    assert not missing, f"docs/plugins.md does not mention {missing}"


def test_plugin_docs_show_the_tested_example_verbatim() -> None:
    example = REPO / "tests" / "plugins" / "example_plugin" / "syncmail_example.py"
    assert example.read_text() in DOCS.read_text()
    assert len(example.read_text().splitlines()) <= 25
