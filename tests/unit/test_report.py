"""report: mbsync 1.5's summary and progress texts, the progress line, logging setup."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from syncmail.errors import BoxError, ConnectionFailed, MessageError
from syncmail.events import BoxResult, Progress, RunSummary, SideProgress
from syncmail.report import (
    QUIET,
    TERSE,
    VERBOSE,
    VERYQUIET,
    ProgressLine,
    SecretMask,
    SummaryShape,
    failure_text,
    progress_text,
    retry_text,
    setup_logging,
    summary_text,
)

BOXES = (
    BoxResult("work", "INBOX", pulled_new=3, pushed_new=1, pulled_flags=2, pushed_flags=4,
              expunged_far=5, expunged_near=6, trashed_far=7, trashed_near=8),
    BoxResult("work", "Sent", pulled_new=10, pulled_flags=1),
)


def test_summary_default_shape() -> None:
    text = summary_text(RunSummary(channels=1, boxes=BOXES), SummaryShape())
    assert text == (
        "Processed 2 box(es) in 1 channel(s),\n"
        "pulled 13 new message(s) and 3 flag update(s),\n"
        "pushed 1 new message(s) and 4 flag update(s)."
    )


def test_summary_all_lines_near_side_first() -> None:
    shape = SummaryShape(pull=True, push=True, expunge_far=True, expunge_near=True,
                         trash_far=True, trash_near=True)
    text = summary_text(RunSummary(channels=1, boxes=BOXES), shape)
    assert text == (
        "Processed 2 box(es) in 1 channel(s),\n"
        "pulled 13 new message(s) and 3 flag update(s),\n"
        "moved 8 near side message(s) to trash,\n"
        "expunged 6 message(s) from near side,\n"
        "pushed 1 new message(s) and 4 flag update(s),\n"
        "moved 7 far side message(s) to trash,\n"
        "expunged 5 message(s) from far side."
    )


def test_summary_dry_run_says_would() -> None:
    shape = SummaryShape(pull=True, push=False, expunge_near=True, trash_near=True)
    text = summary_text(RunSummary(channels=2, boxes=BOXES, dry_run=True), shape)
    assert text == (
        "Processed 2 box(es) in 2 channel(s),\n"
        "would pull 13 new message(s) and 3 flag update(s),\n"
        "would move 8 near side message(s) to trash,\n"
        "would expunge 6 message(s) from near side."
    )


def test_summary_only_expunge() -> None:
    shape = SummaryShape(pull=False, push=False, expunge_far=True)
    text = summary_text(RunSummary(channels=1, boxes=BOXES[:1]), shape)
    assert text == "Processed 1 box(es) in 1 channel(s),\nexpunged 5 message(s) from far side."


def test_moves_get_a_line_of_their_own() -> None:
    """mbsync's lines stay as they are (the moved messages are among the new ones); the
    moves are one more line, only when there were any."""
    boxes = (*BOXES, BoxResult("work", "Zoo", pulled_new=2, pushed_new=1, moved=3))
    text = summary_text(RunSummary(channels=1, boxes=boxes), SummaryShape())
    assert text == (
        "Processed 3 box(es) in 1 channel(s),\n"
        "pulled 15 new message(s) and 3 flag update(s),\n"
        "pushed 2 new message(s) and 4 flag update(s).\n"
        "moved 3 message(s) between boxes without transferring them again."
    )


def test_no_summary_when_nothing_processed() -> None:
    assert summary_text(RunSummary(channels=0), SummaryShape()) is None


def test_progress_text() -> None:
    progress = Progress(
        channels_done=1, channels_total=2, boxes_done=3, boxes_total=4,
        far=SideProgress(1, 2, 3, 4, 5, 6, 7, 8),
        near=SideProgress(new_done=10, new_total=20),
    )
    assert progress_text(progress, 200) == (
        "C: 1/2  B: 3/4  F: +1/2 *3/4 #5/6 -7/8  N: +10/20 *0/0 #0/0 -0/0"
    )


def test_progress_text_truncated_with_tilde() -> None:
    progress = Progress(far=SideProgress(123456, 123456), near=SideProgress(1, 1))
    text = progress_text(progress, 60)
    # (60 - len("C: 0/0  B: 0/0") - 10) // 2 = 18 characters per side, the last one "~".
    far = text.split("F: ")[1].split("  N: ")[0]
    near = text.split("N: ")[1]
    assert len(far) == 18 and far.endswith("~")
    assert len(near) == 18 and near.endswith("~")


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_progress_line_rate_limited_and_erased() -> None:
    out = io.StringIO()
    clock = FakeClock()
    line = ProgressLine(out, columns=200, interval=0.3, clock=clock)
    line(Progress(boxes_done=1, boxes_total=3))
    first = out.getvalue()
    assert first.startswith("\rC: 0/0  B: 1/3")
    line(Progress(boxes_done=2, boxes_total=3))  # same instant: not redrawn
    assert out.getvalue() == first
    clock.now = 1.0
    line(Progress(boxes_done=3, boxes_total=3))
    assert "B: 3/3" in out.getvalue()
    line.finish()
    # The line is wiped: the output ends with "\r" + blanks + "\r".
    tail = out.getvalue().rsplit("\r", 2)
    assert tail[-1] == "" and tail[-2].strip() == ""


@pytest.fixture
def clean_root() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for h in list(root.handlers):
        if h not in handlers:
            root.removeHandler(h)
    root.setLevel(level)
    logging.getLogger("syncmail").setLevel(logging.NOTSET)


def emit_all() -> None:
    log = logging.getLogger("syncmail.test")
    log.debug("dbg")
    log.info("inf")
    log.warning("wrn")
    log.error("err")
    logging.getLogger("syncmail_someplugin").info("plugin info")


@pytest.mark.parametrize(
    ("verbosity", "debug", "expected"),
    [
        (TERSE, False, ["Warning: wrn", "Error: err"]),
        (QUIET, False, ["Warning: wrn", "Error: err"]),
        (VERYQUIET, False, ["Error: err"]),
        (VERBOSE, False, ["inf", "Warning: wrn", "Error: err", "plugin info"]),
        (VERBOSE, True,
         ["[syncmail.test] dbg", "inf", "Warning: wrn", "Error: err", "plugin info"]),
    ],
)
def test_logging_levels(
    clean_root: None, verbosity: int, debug: bool, expected: list[str]
) -> None:
    out = io.StringIO()
    setup_logging(out, verbosity=verbosity, debug=debug)
    emit_all()
    assert out.getvalue().splitlines() == expected


def test_tagged_messages_keep_their_tag(clean_root: None) -> None:
    out = io.StringIO()
    setup_logging(out)
    logging.getLogger("syncmail.x").warning("Notice: -N is deprecated")
    logging.getLogger("syncmail.x").warning("/home/u/.mbsyncrc:6: notice: SSLType is old")
    assert out.getvalue().splitlines() == [
        "Notice: -N is deprecated", "/home/u/.mbsyncrc:6: notice: SSLType is old",
    ]


def test_log_output_clears_progress_line(clean_root: None) -> None:
    out = io.StringIO()
    handler, _ = setup_logging(out)
    line = ProgressLine(out, columns=100)
    handler.progress = line
    line(Progress(boxes_total=1))
    logging.getLogger("syncmail.x").warning("careful")
    assert out.getvalue().endswith("\r\nWarning: careful\n".replace("\r\n", "\r"))


def test_secrets_are_masked_in_debug_output(clean_root: None) -> None:
    out = io.StringIO()
    _, mask = setup_logging(out, debug=True)
    mask.add(["hunter2"])
    log = logging.getLogger("syncmail.imap")
    log.debug("> a1 LOGIN alice hunter2")
    log.debug("password is %s", "hunter2")
    log.debug('> a2 LOGIN "bob" "s3cr et"')
    log.debug("> a3 AUTHENTICATE PLAIN AGJvYgBzM2NyZXQ=")
    text = out.getvalue()
    assert "hunter2" not in text
    assert "s3cr et" not in text
    assert "AGJvYgBzM2NyZXQ=" not in text
    assert "LOGIN alice <hidden>" in text


@pytest.mark.parametrize(
    "text",
    [
        "store far: no acceptable authentication mechanism: server offers LOGIN OAUTHBEARER "
        "PLAIN XOAUTH2, AuthMechs is XOAUTH2 LOGIN PLAIN",
        "store far: XOAUTH2 login as alice refused: [AUTHENTICATIONFAILED] Authentication failed.",
        "store far: logging in as alice with XOAUTH2",
        "PassCmd of account work failed (exit status 1)",
        "exit code: 3, see the password store",
        "Processed 2 box(es) in 1 channel(s)",
    ],
)
def test_mask_leaves_ordinary_messages_alone(text: str) -> None:
    assert SecretMask(["hunter2"]).mask(text) == text


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("Authorization: Bearer ya29.a0-AfH6SM_x", "ya29.a0-AfH6SM_x"),
        ('{"access_token": "at-123", "expires_in": 3599}', "at-123"),
        ('{"refresh_token":"1//0gXyz"}', "1//0gXyz"),
        ("grant_type=refresh_token&refresh_token=M.R3_BAY&client_id=x", "M.R3_BAY"),
        ("client_secret=GOCSPX-abc&code_verifier=vvv", "GOCSPX-abc"),
        ("GET /?code=4/0AX4&state=s HTTP/1.1", "4/0AX4"),
        # A SASL continuation line: base64 of an XOAUTH2 message.
        ("> b'dXNlcj1hbGljZUBleGFtcGxlLm9yZwFhdXRoPUJlYXJlciBnb29kLXRva2VuLWFsaWNlAQE='",
         "dXNlcj1hbGljZUBleGFtcGxlLm9yZwFhdXRoPUJlYXJlciBnb29kLXRva2VuLWFsaWNlAQE="),
        ("> b'JEPD3 AUTHENTICATE XOAUTH2 dXNlcj1hbGljZQ=='", "dXNlcj1hbGljZQ=="),
    ],
)  # fmt: skip
def test_mask_hides_tokens_by_protocol_context(text: str, secret: str) -> None:
    masked = SecretMask().mask(text)
    assert secret not in masked
    assert "<hidden>" in masked


def test_hide_secret_reaches_the_installed_mask(clean_root: None) -> None:
    from syncmail.report import hide_secret

    out = io.StringIO()
    setup_logging(out, debug=True)
    hide_secret("tok-obtained-later")
    logging.getLogger("syncmail.x").debug("got tok-obtained-later from PassCmd")
    assert "tok-obtained-later" not in out.getvalue()


def test_a_traceback_in_debug_output_is_masked_too(clean_root: None) -> None:
    """The filter masks a record's message; -D also prints a traceback, whose text
    (an exception's message) can quote a secret the message does not."""
    out = io.StringIO()
    _, mask = setup_logging(out, debug=True)
    mask.add(["hunter2"])
    try:
        raise ValueError("PassCmd printed hunter2 twice")
    except ValueError:
        logging.getLogger("syncmail.x").debug("a plugin failed", exc_info=True)
    text = out.getvalue()
    assert "Traceback" in text and "ValueError: PassCmd printed <hidden> twice" in text
    assert "hunter2" not in text


def test_mask_longest_first() -> None:
    mask = SecretMask(["abc", "abcdef"])
    assert mask.mask("x abcdef y") == "x <hidden> y"


def test_no_failure_line_when_nothing_failed() -> None:
    assert failure_text(RunSummary(1, BOXES), []) is None


def test_failure_line_counts_boxes_stores_and_messages() -> None:
    boxes = (*BOXES, BoxResult("work", "Bad", error="Error: x"))
    errors = [
        BoxError("work", "Bad", "x"),
        ConnectionFailed("far", "timed out"),
        MessageError("Sent", 7, "too big"),
    ]
    assert failure_text(RunSummary(1, boxes), errors) == (
        "syncmail: run failed: 1 of 3 box(es) failed; store(s) far failed; "
        "1 message(s) not synced; see the errors above"
    )
    dry = failure_text(RunSummary(1, boxes, dry_run=True), errors[:1])
    assert dry is not None and dry.startswith("syncmail: dry run failed: 1 of 3 box(es)")


def test_failure_line_for_an_error_of_no_box_or_store() -> None:
    from syncmail.errors import SyncmailError

    text = failure_text(RunSummary(0), [SyncmailError("sync vetoed by pause")])
    assert text == "syncmail: run failed: 1 error(s); see the errors above"


def test_retry_notice_names_each_retried_box() -> None:
    assert retry_text(RunSummary(1, BOXES)) is None
    boxes = (BoxResult("work", "INBOX", retries=2), BoxResult("work", "Sent"))
    assert retry_text(RunSummary(1, boxes)) == (
        "Notice: connection lost and box synced again: work:INBOX (2x)"
    )
