"""The demo's pieces: the sample mail generator and the config the demo writes."""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import sys
from email import message_from_bytes
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


def load(name: str, path: Path) -> ModuleType:
    loader = importlib.machinery.SourceFileLoader(name, str(path))
    spec = importlib.util.spec_from_loader(name, loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def sample_mail() -> ModuleType:
    return load("sample_mail", ROOT / "scripts" / "sample_mail.py")


def test_sample_mail_is_deterministic(sample_mail: ModuleType) -> None:
    first = sample_mail.generate(seed=1, scale=0.3)
    second = sample_mail.generate(seed=1, scale=0.3)
    digest = [hashlib.sha256(m.data).hexdigest() for m in first]
    assert digest == [hashlib.sha256(m.data).hexdigest() for m in second]
    assert [m.flags for m in first] == [m.flags for m in second]
    other = sample_mail.generate(seed=2, scale=0.3)
    assert digest != [hashlib.sha256(m.data).hexdigest() for m in other]


def test_sample_mail_looks_like_mail(sample_mail: ModuleType) -> None:
    messages = sample_mail.generate()
    assert len(messages) == 200
    assert {m.folder for m in messages} == {"INBOX", "Sent", "Archive", "Lists/python",
                                            "Lists/notmuch"}
    ids = set()
    for m in messages:
        parsed = message_from_bytes(m.data)
        for header in ("From", "To", "Subject", "Date", "Message-ID"):
            assert parsed[header], header
        ids.add(parsed["Message-ID"])
        assert b"\r\n" not in m.data and m.crlf().count(b"\r\n") == m.data.count(b"\n")
    assert len(ids) == 200
    flagged = sum("\\Flagged" in m.flags for m in messages)
    seen = sum("\\Seen" in m.flags for m in messages)
    assert 0 < flagged < seen < 200


def test_sample_mail_writes_a_maildir(sample_mail: ModuleType, tmp_path: Path) -> None:
    messages = sample_mail.generate(scale=0.1)
    sample_mail.write_maildir(tmp_path, messages)
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert len(files) == len(messages)
    assert all(p.parent.name in ("cur", "new") for p in files)


def test_demo_config_is_accepted(tmp_path: Path) -> None:
    pytest.importorskip("syncmail.config.parser", reason="config parser not written yet")
    from syncmail.config.parser import parse_config

    demo = load("syncmail_demo_script", ROOT / "scripts" / "demo")
    (tmp_path / "cert.pem").write_text("")  # the parser checks that it exists, as mbsync does
    text = demo.mbsyncrc(10143, str(tmp_path / "cert.pem"))
    config = parse_config(text, str(tmp_path / "mbsyncrc"))
    assert list(config.channels) == ["demo"]
