"""The XOAUTH2/OAUTHBEARER messages byte for byte, and the client side of the exchange."""

from __future__ import annotations

import base64

import pytest

from syncmail.oauth2.sasl import Exchange, bad_token_reason, oauthbearer_payload, xoauth2_payload


def test_xoauth2_payload_is_what_dovecot_and_google_take() -> None:
    payload = xoauth2_payload("alice@example.org", "good-token-alice")
    # Known good against Dovecot 2.3.19 (reference/oauth2.md, 1.3).
    assert base64.b64encode(payload) == (
        b"dXNlcj1hbGljZUBleGFtcGxlLm9yZwFhdXRoPUJlYXJlciBnb29kLXRva2VuLWFsaWNlAQE="
    )


@pytest.mark.parametrize(
    ("user", "host", "port", "expected"),
    [
        ("bob@example.org", "127.0.0.1", 21143,
         b"n,a=bob@example.org,\x01host=127.0.0.1\x01port=21143\x01auth=Bearer T\x01\x01"),
        ("a,b=c", None, None, b"n,a=a=2Cb=3Dc,\x01auth=Bearer T\x01\x01"),
    ],
)  # fmt: skip
def test_oauthbearer_payload(
    user: str, host: str | None, port: int | None, expected: bytes
) -> None:
    assert oauthbearer_payload(user, "T", host, port) == expected


@pytest.mark.parametrize(("mechanism", "answer"), [("XOAUTH2", b""), ("OAUTHBEARER", b"\x01")])
def test_error_challenge_is_answered_as_the_mechanism_wants(mechanism: str, answer: bytes) -> None:
    exchange = Exchange(mechanism, b"payload")
    assert exchange(b"") == b"payload"
    assert exchange(b'{"status":"401","schemes":"bearer"}') == answer
    assert exchange.error == {"status": "401", "schemes": "bearer"}
    assert exchange(b"more") is None  # a third challenge: abort instead of looping


def test_error_challenge_that_is_not_json_is_kept_as_text() -> None:
    exchange = Exchange("XOAUTH2", b"p", sent=True)
    exchange(b"nope")
    assert exchange.error == {"status": "nope"}


@pytest.mark.parametrize(
    ("token", "bad"),
    [("ya29.a0AfH6SM-x_y~z+/=", False), ("", True), ("two words", True), ("t\x01x", True),
     ("tok\u00e9n", True)],
)  # fmt: skip
def test_bad_token_reason_never_quotes_the_token(token: str, bad: bool) -> None:
    reason = bad_token_reason(token)
    assert (reason is not None) == bad
    if reason and token:
        assert token not in reason
