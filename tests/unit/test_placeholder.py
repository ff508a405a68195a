"""Placeholders for messages over MaxSize: mbsync's exact bytes (sync_msg_cvt.c)."""

from __future__ import annotations

from syncmail.sync.msgcvt import (
    convert_message,
    is_placeholder,
    make_placeholder,
    placeholder_size,
)

NOTE = (
    b"Having a size of 4KiB, this message is over the MaxSize limit.\n"
    b"Flag it and sync again (Sync mode Upgrade) to fetch its real contents.\n"
)


def _lf(data: bytes, size: int = 5000) -> bytes:
    converted = convert_message(data, source_crlf=False, target_crlf=False, tuid="abcdefghijkl")
    return make_placeholder(converted, size, crlf=False)


def test_subject_gets_the_prefix_and_the_body_the_note() -> None:
    out = _lf(b"From: a\nsubject:Hi\n\n" + b"x" * 5000 + b"\n")
    assert out == b"From: a\nsubject:[placeholder] Hi\nX-TUID: abcdefghijkl\n\n" + NOTE
    assert is_placeholder(out)


def test_without_subject_one_is_added_after_the_tuid() -> None:
    out = _lf(b"From: a\n\nbody\n")
    assert out == (b"From: a\nX-TUID: abcdefghijkl\nSubject: [placeholder] (No Subject)\n\n" + NOTE)


def test_crlf_and_flagged_note() -> None:
    data = convert_message(
        b"Subject: S\r\n\r\nbody\r\n", source_crlf=True, target_crlf=True, tuid="abcdefghijkl"
    )
    out = make_placeholder(data, 2_000_000, crlf=True, flagged=True)
    assert out == (
        b"Subject: [placeholder] S\r\nX-TUID: abcdefghijkl\r\n\r\n"
        b"Having a size of 1.9MiB, this message is over the MaxSize limit.\r\n"
        b"Flag it and sync again (Sync mode Upgrade) to fetch its real contents.\r\n"
        b"\r\nThe original message is flagged as important.\r\n"
    )


def test_sizes_as_mbsync_prints_them() -> None:
    assert [placeholder_size(n) for n in (1023, 1024, 1023999, 1024000, 1048576 * 3)] == [
        "0KiB", "1KiB", "999KiB", "1.0MiB", "3.0MiB",
    ]  # fmt: skip


def test_real_messages_are_no_placeholders() -> None:
    assert not is_placeholder(b"Subject: [placeholder] joke\n\nhello\n")
    assert not is_placeholder(b"Subject: x\n\nthis message is over the MaxSize limit.\n")
