"""Connection security against a real Dovecot: TLS modes, certificate checks, login rules."""

from __future__ import annotations

import pytest

from syncmail.errors import AuthenticationFailed, ConnectionFailed
from syncmail.store.base import ListRequest
from tests.dovecot.imap_helpers import store

pytestmark = pytest.mark.dovecot


def _works(s) -> None:  # type: ignore[no-untyped-def]
    s.connect()
    try:
        assert s.open_box("INBOX").list_messages(ListRequest()) == {}
    finally:
        s.close()


def test_plain_connection_with_explicit_login(imap_user) -> None:  # type: ignore[no-untyped-def]
    _works(store(imap_user, tls_type="none", auth_mechs=("LOGIN",)))


@pytest.mark.parametrize("mechs", [("*",), ("PLAIN",), ("LOGIN",)])
def test_starttls_with_pinned_certificate(imap_user, mechs) -> None:  # type: ignore[no-untyped-def]
    cert = imap_user.server.cert_path
    _works(store(imap_user, tls_type="starttls", certificate_file=cert, auth_mechs=mechs))


def test_imaps_with_pinned_certificate(imap_user) -> None:  # type: ignore[no-untyped-def]
    s = store(
        imap_user,
        tls_type="imaps",
        port=imap_user.server.port_tls,
        certificate_file=imap_user.server.cert_path,
        system_certificates=False,
        auth_mechs=("*",),
    )
    _works(s)


@pytest.mark.parametrize("tls", ["starttls", "imaps"])
@pytest.mark.parametrize("system", [True, False])
def test_self_signed_certificate_is_refused_without_certificate_file(
    imap_user, tls, system
) -> None:  # type: ignore[no-untyped-def]
    port = imap_user.server.port_tls if tls == "imaps" else imap_user.server.port
    s = store(imap_user, tls_type=tls, port=port, system_certificates=system, auth_mechs=("*",))
    with pytest.raises(ConnectionFailed, match="certificate verification failed"):
        s.connect()


def test_login_in_the_clear_needs_explicit_authmechs(imap_user) -> None:  # type: ignore[no-untyped-def]
    s = store(imap_user, tls_type="none", auth_mechs=("*",))
    with pytest.raises(AuthenticationFailed, match="unencrypted connection") as info:
        s.connect()
    assert "AuthMechs" in str(info.value)
    assert imap_user.password not in str(info.value)


def test_missing_starttls_is_a_clear_error(imap_user) -> None:  # type: ignore[no-untyped-def]
    # DisableExtensions masks the capability, as if the server did not offer it.
    s = store(imap_user, tls_type="starttls", disable_extensions=frozenset({"STARTTLS"}))
    with pytest.raises(ConnectionFailed, match="does not offer STARTTLS"):
        s.connect()


def test_wrong_password_is_refused_without_echoing_it(imap_user) -> None:  # type: ignore[no-untyped-def]
    secret = "not-the-password-" + imap_user.password
    s = store(imap_user, password=secret)
    with pytest.raises(AuthenticationFailed, match="login refused") as info:
        s.connect()
    assert secret not in str(info.value)
    assert info.value.store == s.name


def test_no_acceptable_mechanism(imap_user) -> None:  # type: ignore[no-untyped-def]
    s = store(
        imap_user,
        tls_type="starttls",
        certificate_file=imap_user.server.cert_path,
        auth_mechs=("CRAM-MD5",),
    )
    with pytest.raises(AuthenticationFailed, match="no acceptable authentication mechanism"):
        s.connect()


def test_connection_refused_is_a_store_error(imap_user) -> None:  # type: ignore[no-untyped-def]
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound but not listening: connection refused
        s = store(imap_user, port=port)
        with pytest.raises(ConnectionFailed, match="127.0.0.1"):
            s.connect()


@pytest.mark.parametrize("mechs", [("LOGIN",), ("PLAIN",)])
def test_password_never_reaches_debug_logs(imap_user, caplog, mechs) -> None:  # type: ignore[no-untyped-def]
    import logging

    s = store(
        imap_user,
        tls_type="starttls",
        certificate_file=imap_user.server.cert_path,
        auth_mechs=mechs,
    )
    with caplog.at_level(logging.DEBUG):
        _works(s)
    assert caplog.records  # debug logging really was on
    assert imap_user.password not in caplog.text
    import base64

    blob = b"\0" + imap_user.name.encode() + b"\0" + imap_user.password.encode()
    assert base64.b64encode(blob).decode() not in caplog.text  # AUTHENTICATE PLAIN
