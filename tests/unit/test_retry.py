"""The retry policy after a lost connection, and how the run reports retries."""

from __future__ import annotations

import imaplib
from collections.abc import Callable

import pytest
from imapclient import exceptions as ie  # type: ignore[import-untyped]

from syncmail.errors import (
    AuthenticationFailed,
    ConnectionFailed,
    ProtocolError,
    StoreError,
)
from syncmail.events import BoxResult, RunSummary
from syncmail.report import retry_text
from syncmail.store.imapwire import translate
from syncmail.sync.retry import RETRY_DELAYS, RETRY_SCALE_ENV, retrying

LOST = ConnectionFailed("s", "connection lost")


@pytest.fixture(autouse=True)
def no_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(RETRY_SCALE_ENV, "0")


def _flaky(failures: list[Exception]) -> tuple[list[str], Callable[[], str]]:
    calls: list[str] = []

    def attempt() -> str:
        calls.append("try")
        if failures:
            raise failures.pop(0)
        return "done"

    return calls, attempt


@pytest.mark.parametrize(
    ("failures", "retries"),
    [
        ([], 0),
        ([LOST], 1),
        ([LOST] * len(RETRY_DELAYS), len(RETRY_DELAYS)),
    ],
)
def test_lost_connections_are_retried_within_the_bound(
    failures: list[Exception], retries: int
) -> None:
    calls, attempt = _flaky(list(failures))
    recovered: list[str] = []
    value, n = retrying(attempt, lambda e: recovered.append(e.store), "work")
    assert (value, n) == ("done", retries)
    assert len(calls) == retries + 1 and len(recovered) == retries


def test_gives_up_after_the_bound() -> None:
    calls, attempt = _flaky([LOST] * (len(RETRY_DELAYS) + 1))
    with pytest.raises(ConnectionFailed):
        retrying(attempt, lambda e: None, "work")
    assert len(calls) == len(RETRY_DELAYS) + 1


@pytest.mark.parametrize(
    "error",
    [
        ConnectionFailed("s", "no STARTTLS", retryable=False),
        ProtocolError("s", "literal over the limit", retryable=False),
        AuthenticationFailed("s", "login refused"),
        StoreError("s", "no IMAPAccount"),
    ],
)
def test_what_a_new_connection_would_repeat_is_not_retried(error: Exception) -> None:
    calls, attempt = _flaky([error])
    with pytest.raises(type(error)):
        retrying(attempt, lambda e: None, "work")
    assert len(calls) == 1


def test_recover_can_stop_the_retries() -> None:
    calls, attempt = _flaky([LOST, LOST])
    given_up = StoreError("s", "given up earlier")

    def recover(e: ConnectionFailed) -> None:
        raise given_up

    with pytest.raises(StoreError) as info:
        retrying(attempt, recover, "work")
    assert info.value is given_up and len(calls) == 1


def test_a_connection_lost_during_login_is_not_a_refused_login() -> None:
    # imapclient turns any IMAP4.error during LOGIN into LoginError, EOF included.
    try:
        try:
            raise imaplib.IMAP4.abort("socket error: EOF")
        except imaplib.IMAP4.error as e:
            raise ie.LoginError(str(e)) from None
    except ie.LoginError as exc:
        lost = exc
    # ``from None`` hides the context from tracebacks but keeps it, as imapclient's own
    # ``raise`` inside ``except`` does.
    assert isinstance(translate(lost, "s", "LOGIN"), ConnectionFailed)
    refused = ie.LoginError("[AUTHENTICATIONFAILED] Authentication failed.")
    assert isinstance(translate(refused, "s", "LOGIN"), AuthenticationFailed)


def test_retry_text_names_boxes_and_channels() -> None:
    assert retry_text(RunSummary(channels=1, boxes=(BoxResult("c", "INBOX"),))) is None
    summary = RunSummary(
        channels=2,
        boxes=(BoxResult("c", "INBOX", retries=2), BoxResult("c", "Work")),
        reconnects=(("d", 1),),
    )
    assert retry_text(summary) == (
        "Notice: connection lost and made again for channel(s): d (1x)\n"
        "Notice: connection lost and box synced again: c:INBOX (2x)"
    )
