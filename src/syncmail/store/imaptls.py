"""The TLS client context of an IMAP account: mbsync's TLSVersions, CertificateFile,
SystemCertificates, ClientCertificate/ClientKey and CipherString on Python's ``ssl``."""

from __future__ import annotations

import ssl
import warnings
from collections.abc import Sequence

from syncmail.config.model import IMAPAccountConfig
from syncmail.config.parser import tls_versions_problem
from syncmail.errors import StoreError

__all__ = ["client_context", "enabled_tls_versions"]

_TLS_VERSIONS = ("1.0", "1.1", "1.2", "1.3")
_TLS_NAMES = {"1.0": "TLSv1", "1.1": "TLSv1_1", "1.2": "TLSv1_2", "1.3": "TLSv1_3"}


def client_context(store: str, acc: IMAPAccountConfig) -> ssl.SSLContext:
    """The client context for ``acc``; a StoreError of ``store`` names what is wrong."""
    enabled = enabled_tls_versions(acc.tls_versions)
    problem = tls_versions_problem(enabled)
    if problem:
        raise StoreError(store, problem)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = True
    ctx.verify_mode = ssl.CERT_REQUIRED
    ordered = [v for v in _TLS_VERSIONS if v in enabled]
    with warnings.catch_warnings():
        # TLS 1.0/1.1 are deprecated in Python; asking for them is the user's choice.
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx.minimum_version = getattr(ssl.TLSVersion, _TLS_NAMES[ordered[0]])
        ctx.maximum_version = getattr(ssl.TLSVersion, _TLS_NAMES[ordered[-1]])
    if acc.system_certificates:
        ctx.load_default_certs(ssl.Purpose.SERVER_AUTH)
    if acc.certificate_file:
        # Trusted directly, so a server's own self-signed certificate listed here is
        # accepted, as mbsync does.
        try:
            ctx.load_verify_locations(cafile=acc.certificate_file)
        except (OSError, ssl.SSLError) as exc:
            raise StoreError(
                store, f"CertificateFile '{acc.certificate_file}': {_ssl_reason(exc)}"
            ) from None
        ctx.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
    if acc.client_key and not acc.client_certificate:
        raise StoreError(store, f"ClientKey '{acc.client_key}' is set without ClientCertificate")
    if acc.client_certificate:
        what = f"ClientCertificate '{acc.client_certificate}'"
        if acc.client_key:
            what += f" with ClientKey '{acc.client_key}'"
        try:
            ctx.load_cert_chain(acc.client_certificate, acc.client_key)
        except (OSError, ssl.SSLError) as exc:
            raise StoreError(store, f"cannot load {what}: {_ssl_reason(exc)}") from None
    if acc.cipher_string:
        try:
            ctx.set_ciphers(acc.cipher_string)
        except ssl.SSLError:
            raise StoreError(
                store,
                f"CipherString '{acc.cipher_string}' selects no cipher OpenSSL can use",
            ) from None
    return ctx


def enabled_tls_versions(spec: Sequence[str]) -> set[str]:
    """The TLS versions mbsync's ``TLSVersions`` tokens (``+1.3``, ``-1.2``) leave enabled.

    Tokens apply in order to mbsync's default set, 1.2 and 1.3.
    """
    enabled = {"1.2", "1.3"}
    for token in spec:
        t = token.strip()
        ver = t.lstrip("+-").removeprefix("TLSv").removeprefix("v")
        if ver not in _TLS_VERSIONS:
            continue
        if t.startswith("-"):
            enabled.discard(ver)
        else:
            enabled.add(ver)
    return enabled


def _ssl_reason(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLError):
        return str(exc.reason or exc)
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc)
