"""Maildir box names <-> directories (SubFolders styles, Path suffix, Flatten, MapInbox)
and box listing, on real directories."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import pytest

from syncmail.config.model import Location, MaildirStoreConfig
from syncmail.errors import BoxError, StoreError
from syncmail.store.maildir_layout import MaildirBoxError, MaildirLayout


def layout(tmp_path: Path, **kw: Any) -> MaildirLayout:
    kw.setdefault("path", f"{tmp_path}/Mail/")
    kw.setdefault("inbox", f"{tmp_path}/Inbox")
    return MaildirLayout(MaildirStoreConfig(name="local", defined_at=Location("rc", 1), **kw))


def make_box(path: Path) -> None:
    for sub in ("cur", "new", "tmp"):
        (path / sub).mkdir(parents=True, exist_ok=True)


# --- name -> directory ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("style", "name", "rel"),
    [
        ("verbatim", "top/sub/subsub", "Mail/top/sub/subsub"),
        ("verbatim", "INBOX/sub/subsub", "Inbox/sub/subsub"),
        ("maildir++", "top/sub/subsub", "Inbox/.top.sub.subsub"),
        ("maildir++", "INBOX/sub/subsub", "Inbox/..sub.subsub"),
        ("legacy", "top/sub/subsub", "Mail/top/.sub/.subsub"),
        ("legacy", "INBOX/sub/subsub", "Inbox/.sub/.subsub"),
        ("verbatim", "INBOX", "Inbox"),
        ("maildir++", "INBOX", "Inbox"),
        ("legacy", "INBOX", "Inbox"),
        (None, "Sent", "Mail/Sent"),
        ("verbatim", "INBOXfoo", "Mail/INBOXfoo"),
    ],
)
def test_box_dir_styles(tmp_path: Path, style: Any, name: str, rel: str) -> None:
    kw: dict[str, Any] = {"subfolders": style}
    if style == "maildir++":
        kw["path"] = None
    assert layout(tmp_path, **kw).box_dir(name) == f"{tmp_path}/{rel}"


def test_path_suffix_is_a_name_prefix(tmp_path: Path) -> None:
    lay = layout(tmp_path, path=f"{tmp_path}/Mail/work-", subfolders="verbatim")
    assert lay.box_dir("Box") == f"{tmp_path}/Mail/work-Box"
    assert lay.box_dir("a/b") == f"{tmp_path}/Mail/work-a/b"
    assert lay.box_dir("INBOX/x") == f"{tmp_path}/Inbox/x"


def test_default_inbox_is_home_maildir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    lay = MaildirLayout(MaildirStoreConfig(name="s", defined_at=Location("rc", 1)))
    assert lay.box_dir("INBOX") == f"{tmp_path}/home/Maildir"


def test_subfolder_without_style_is_refused(tmp_path: Path) -> None:
    lay = layout(tmp_path)
    with pytest.raises(BoxError, match="does not specify SubFolders style"):
        lay.box_dir("a/b")
    with pytest.raises(BoxError, match="does not specify SubFolders style"):
        lay.box_dir("INBOX/b")


def test_maildirpp_refuses_dots(tmp_path: Path) -> None:
    lay = layout(tmp_path, path=None, subfolders="maildir++")
    with pytest.raises(BoxError, match="does not support dots"):
        lay.box_dir("a.b")


def test_no_path_only_inbox(tmp_path: Path) -> None:
    lay = layout(tmp_path, path=None, subfolders="verbatim")
    assert lay.box_dir("INBOX") == f"{tmp_path}/Inbox"
    assert lay.box_dir("INBOX/x") == f"{tmp_path}/Inbox/x"
    with pytest.raises(BoxError, match="has no Path"):
        lay.box_dir("Sent")


@pytest.mark.parametrize(
    "name",
    [
        "",
        "..",
        ".",
        "a/../b",
        "../etc",
        "/etc",
        "a//b",
        "a/",
        "INBOX/",
        "INBOX/..",
        "a\0b",
        "a/./b",
    ],
)
@pytest.mark.parametrize("style", ["verbatim", "legacy"])
def test_unsafe_names_refused(tmp_path: Path, name: str, style: Any) -> None:
    lay = layout(tmp_path, subfolders=style)
    with pytest.raises(MaildirBoxError, match="refusing mailbox name"):
        lay.box_dir(name)


@pytest.mark.parametrize("name", ["INBOX/cur", "a/new", "a/b/tmp", "INBOX/x/cur"])
def test_names_inside_a_box_refused(tmp_path: Path, name: str) -> None:
    lay = layout(tmp_path, subfolders="verbatim")
    with pytest.raises(MaildirBoxError, match="inside a mailbox"):
        lay.box_dir(name)


def test_top_level_new_is_fine_unless_path_is_a_box(tmp_path: Path) -> None:
    lay = layout(tmp_path, subfolders="verbatim")
    assert lay.box_dir("new") == f"{tmp_path}/Mail/new"
    make_box(tmp_path / "Mail")
    with pytest.raises(MaildirBoxError, match="inside a mailbox"):
        lay.box_dir("new")


def test_error_text_names_store_and_box(tmp_path: Path) -> None:
    with pytest.raises(MaildirBoxError) as info:
        layout(tmp_path, subfolders="verbatim").box_dir("a/../b")
    assert str(info.value).startswith("Maildir store local, box a/../b: refusing mailbox name")
    assert info.value.box == "a/../b"


def test_flatten(tmp_path: Path) -> None:
    lay = layout(tmp_path, flatten=".")
    assert lay.box_dir("a/b") == f"{tmp_path}/Mail/a.b"
    with pytest.raises(BoxError, match="contains flattened hierarchy delimiter"):
        lay.box_dir("a.b")
    # ".." cannot sneak through flattening either.
    with pytest.raises(BoxError):
        layout(tmp_path, flatten="-").box_dir("../x")


def test_map_inbox(tmp_path: Path) -> None:
    lay = layout(tmp_path, map_inbox="Inbox2")
    assert lay.box_dir("Inbox2") == f"{tmp_path}/Inbox"
    make_box(tmp_path / "Inbox")
    assert lay.list_boxes() == ["INBOX", "Inbox2"]


# --- listing -------------------------------------------------------------------------


def test_list_verbatim(tmp_path: Path) -> None:
    for rel in ["Inbox", "Inbox/sub", "Mail/top", "Mail/top/sub", "Mail/x/y/z", "Mail/.hidden"]:
        make_box(tmp_path / rel)
    (tmp_path / "Mail" / "notabox").mkdir()
    (tmp_path / "Mail" / "file").write_text("x")
    lay = layout(tmp_path, subfolders="verbatim")
    assert lay.list_boxes() == [
        "INBOX",
        ".hidden",
        "INBOX/sub",
        "top",
        "top/sub",
        "x/y/z",
    ]


def test_list_legacy(tmp_path: Path) -> None:
    for rel in ["Inbox", "Inbox/.sub", "Mail/top", "Mail/top/.sub", "Mail/top/.sub/.deep"]:
        make_box(tmp_path / rel)
    make_box(tmp_path / "Mail" / ".dotted")  # skipped at the top in Legacy
    make_box(tmp_path / "Mail" / "top" / "plain")  # not a Legacy subfolder
    lay = layout(tmp_path, subfolders="legacy")
    assert lay.list_boxes() == ["INBOX", "INBOX/sub", "top", "top/sub", "top/sub/deep"]


def test_list_maildirpp(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    for rel in ["Inbox", "Inbox/.top", "Inbox/.top.sub", "Inbox/..insub", "Inbox/..in.deep"]:
        make_box(tmp_path / rel)
    make_box(tmp_path / "Inbox" / ".INBOX")
    (tmp_path / "Inbox" / ".nobox").mkdir()
    lay = layout(tmp_path, path=None, subfolders="maildir++")
    with caplog.at_level(logging.WARNING):
        assert lay.list_boxes() == ["INBOX", "INBOX/in/deep", "INBOX/insub", "top", "top/sub"]
    assert "ignoring INBOX" in caplog.text
    for name in lay.list_boxes():
        assert os.path.isdir(os.path.join(lay.box_dir(name), "cur"))


def test_list_inbox_nested_in_path(tmp_path: Path) -> None:
    make_box(tmp_path / "Mail" / "INBOX")
    make_box(tmp_path / "Mail" / "INBOX" / "sub")
    make_box(tmp_path / "Mail" / "Sent")
    lay = layout(tmp_path, inbox=f"{tmp_path}/Mail/INBOX", subfolders="verbatim")
    assert lay.list_boxes() == ["INBOX", "INBOX/sub", "Sent"]


def test_list_ignores_folder_named_inbox(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    make_box(tmp_path / "Mail" / "INBOX")
    make_box(tmp_path / "Mail" / "Sent")
    lay = layout(tmp_path, subfolders="verbatim")
    with caplog.at_level(logging.WARNING):
        assert lay.list_boxes() == ["INBOX", "Sent"]
    assert "ignoring INBOX in" in caplog.text


def test_list_with_path_suffix(tmp_path: Path) -> None:
    make_box(tmp_path / "Mail" / "work-A")
    make_box(tmp_path / "Mail" / "work-B")
    make_box(tmp_path / "Mail" / "home-C")
    lay = layout(tmp_path, path=f"{tmp_path}/Mail/work-", subfolders="verbatim")
    assert lay.list_boxes() == ["INBOX", "A", "B"]
    make_box(tmp_path / "Mail" / "work-")
    with pytest.raises(StoreError, match="did you forget the trailing slash"):
        lay.list_boxes()


def test_list_subfolder_without_style_fails(tmp_path: Path) -> None:
    make_box(tmp_path / "Mail" / "top")
    lay = layout(tmp_path)
    assert lay.list_boxes() == ["INBOX", "top"]
    make_box(tmp_path / "Mail" / "top" / "sub")
    with pytest.raises(StoreError, match="found subfolder 'top/sub'"):
        lay.list_boxes()


def test_list_depth_limit(tmp_path: Path) -> None:
    deep = tmp_path / "Mail"
    for i in range(12):
        deep = deep / f"d{i}"
    deep.mkdir(parents=True)
    with pytest.raises(StoreError, match="too deeply nested"):
        layout(tmp_path, subfolders="verbatim").list_boxes()


def test_list_missing_path_is_empty(tmp_path: Path) -> None:
    assert layout(tmp_path, subfolders="verbatim").list_boxes() == ["INBOX"]


def test_list_flatten_maps_back(tmp_path: Path) -> None:
    make_box(tmp_path / "Mail" / "a.b")
    make_box(tmp_path / "Mail" / "c")
    lay = layout(tmp_path, flatten=".")
    assert lay.list_boxes() == ["INBOX", "a/b", "c"]
    assert lay.box_dir("a/b") == f"{tmp_path}/Mail/a.b"
