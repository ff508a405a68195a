"""TLSVersions, CipherString and client certificates against a real Dovecot (and, for the
client certificate actually being sent, a loopback TLS server that demands one)."""

from __future__ import annotations

import socket
import ssl
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest

from syncmail.errors import ConnectionFailed, StoreError
from syncmail.store.base import ListRequest
from syncmail.store.imap import IMAPStore
from tests.dovecot.imap_helpers import store

pytestmark = pytest.mark.dovecot


def _tls_store(user: Any, **overrides: Any) -> IMAPStore:
    fields: dict[str, Any] = {
        "tls_type": "imaps",
        "port": user.server.port_tls,
        "certificate_file": user.server.cert_path,
        "system_certificates": False,
        "auth_mechs": ("*",),
    }
    fields.update(overrides)
    return store(user, **fields)


def _negotiated(s: IMAPStore) -> tuple[str, str]:
    """(TLS version, cipher name) of the store's live connection."""
    sock = s.session.client.socket()
    assert isinstance(sock, ssl.SSLSocket)
    version = sock.version()
    cipher = sock.cipher()
    assert version is not None and cipher is not None
    return version, cipher[0]


@pytest.mark.parametrize(
    ("versions", "tls", "expected"),
    [
        (("-1.2", "+1.3"), "imaps", "TLSv1.3"),
        (("-1.2", "+1.3"), "starttls", "TLSv1.3"),
        (("+1.2", "-1.3"), "imaps", "TLSv1.2"),
        (("+1.1", "+1.2", "-1.3"), "starttls", "TLSv1.2"),
    ],
)
def test_tls_versions_bound_the_negotiated_version(imap_user, versions, tls, expected) -> None:  # type: ignore[no-untyped-def]
    port = imap_user.server.port_tls if tls == "imaps" else imap_user.server.port
    s = _tls_store(imap_user, tls_type=tls, port=port, tls_versions=versions)
    s.connect()
    try:
        assert _negotiated(s)[0] == expected
        assert s.open_box("INBOX").list_messages(ListRequest()) == {}
    finally:
        s.close()


def test_versions_the_server_refuses_fail_the_handshake(imap_user) -> None:  # type: ignore[no-untyped-def]
    # Dovecot 2.3 accepts TLS 1.2 and up only.
    s = _tls_store(imap_user, tls_versions=("+1.1", "-1.2", "-1.3"))
    with pytest.raises(ConnectionFailed, match="TLS"):
        s.connect()


@pytest.mark.parametrize(
    ("versions", "message"),
    [
        (("+1.1", "-1.2", "+1.3"), "1.2 is disabled between 1.1 and 1.3"),
        (("-1.2", "-1.3"), "no TLS version is left enabled"),
    ],
)
def test_unusable_version_sets_are_refused_before_connecting(imap_user, versions, message) -> None:  # type: ignore[no-untyped-def]
    s = _tls_store(imap_user, tls_versions=versions, port=1)  # port 1: never reached
    with pytest.raises(StoreError, match=message):
        s.connect()


def test_cipher_string_picks_the_cipher(imap_user) -> None:  # type: ignore[no-untyped-def]
    # CipherString governs TLS 1.2 and older, so pin 1.2.
    for cipher in ("ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-RSA-CHACHA20-POLY1305"):
        s = _tls_store(imap_user, tls_versions=("-1.3",), cipher_string=cipher)
        s.connect()
        try:
            assert _negotiated(s) == ("TLSv1.2", cipher)
        finally:
            s.close()


def test_bad_cipher_string_is_a_clear_store_error(imap_user) -> None:  # type: ignore[no-untyped-def]
    s = _tls_store(imap_user, cipher_string="NO-SUCH-CIPHER")
    with pytest.raises(StoreError, match="CipherString 'NO-SUCH-CIPHER' selects no cipher") as info:
        s.connect()
    assert info.value.store == s.name


# --- client certificates -------------------------------------------------------------------


def _make_cert(directory: Path, name: str) -> tuple[Path, Path]:
    cert, key = directory / f"{name}.crt", directory / f"{name}.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", f"/CN={name}", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


@pytest.fixture(scope="module")
def client_certs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path]]:
    d = tmp_path_factory.mktemp("client-certs")
    return {name: _make_cert(d, name) for name in ("alice", "mallory")}


def test_client_certificate_is_loaded_and_the_connection_works(imap_user, client_certs) -> None:  # type: ignore[no-untyped-def]
    cert, key = client_certs["alice"]
    s = _tls_store(imap_user, client_certificate=str(cert), client_key=str(key))
    s.connect()
    try:
        assert s.list_boxes() == ["INBOX"]
    finally:
        s.close()


def test_client_certificate_is_presented_to_a_server_that_asks(imap_user, client_certs) -> None:  # type: ignore[no-untyped-def]
    cert, key = client_certs["alice"]
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(imap_user.server.cert_path, imap_user.server.key_path)
    server_ctx.verify_mode = ssl.CERT_REQUIRED
    server_ctx.load_verify_locations(cafile=str(cert))
    seen: list[Any] = []
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)

        def serve() -> None:
            conn, _ = listener.accept()
            with server_ctx.wrap_socket(conn, server_side=True) as tls:
                seen.append(tls.getpeercert())
                tls.sendall(b"* BYE that is all\r\n")

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        s = _tls_store(
            imap_user,
            port=listener.getsockname()[1],
            client_certificate=str(cert),
            client_key=str(key),
        )
        with pytest.raises(ConnectionFailed):
            s.connect()  # the fake server says BYE right after the handshake
        thread.join(timeout=30)
    assert seen, "the handshake with a client certificate did not complete"
    subject = dict(x[0] for x in seen[0]["subject"])
    assert subject["commonName"] == "alice"


@pytest.mark.parametrize(
    ("which", "message"),
    [
        ("mismatch", "cannot load ClientCertificate '{cert}' with ClientKey '{other}': "),
        ("missing", "cannot load ClientCertificate '{missing}' with ClientKey '{key}': "
                    "No such file or directory"),
        ("garbage", "cannot load ClientCertificate '{garbage}' with ClientKey '{key}': "),
        ("key-only", "ClientKey '{key}' is set without ClientCertificate"),
    ],
)  # fmt: skip
def test_client_certificate_errors_name_the_files(
    imap_user, client_certs, tmp_path, which, message
) -> None:  # type: ignore[no-untyped-def]
    cert, key = client_certs["alice"]
    other = client_certs["mallory"][1]
    missing = tmp_path / "missing.crt"
    garbage = tmp_path / "garbage.crt"
    garbage.write_text("not a certificate\n")
    pair = {
        "mismatch": (cert, other),
        "missing": (missing, key),
        "garbage": (garbage, key),
        "key-only": (None, key),
    }[which]
    s = _tls_store(
        imap_user,
        client_certificate=str(pair[0]) if pair[0] else None,
        client_key=str(pair[1]),
    )
    expected = message.format(cert=cert, other=other, missing=missing, garbage=garbage, key=key)
    with pytest.raises(StoreError) as info:
        s.connect()
    assert info.value.message.startswith(expected)
