"""The IMAP driver of the Store contract: connection, TLS, login, names and mailbox commands.

An opened box is ``imapbox.IMAPBox``; protocol details (UID sets, chunking, raw FETCH,
error translation) live in ``imapwire``.
"""

from __future__ import annotations

import errno
import logging
import re
import socket
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from syncmail import credentials
from syncmail.config.model import DEFAULT_BUFFER_LIMIT, IMAPAccountConfig, IMAPStoreConfig
from syncmail.errors import (
    AuthenticationFailed,
    BoxError,
    ConnectionFailed,
    StoreError,
    Unreachable,
)
from syncmail.store import utf7
from syncmail.store.base import (
    Box,
    BoxMissing,
    BoxStatus,
    Store,
)
from syncmail.store.imapwire import (
    CommandFailed,
    Session,
    shorten,
    translate,
)

if TYPE_CHECKING:
    import ssl

    from syncmail.store.imapbox import IMAPBox

log = logging.getLogger(__name__)

__all__ = ["IMAPBoxError", "IMAPStore", "check_box_name"]

# SASL mechanisms carrying an OAuth2 bearer token, preferred first (RFC 7628's own first).
_OAUTH_MECHS = ("OAUTHBEARER", "XOAUTH2")
# Capabilities the engine may care about, reported lower-case in ``Store.capabilities``.
_REPORTED_CAPS = ("UIDPLUS", "MOVE", "CONDSTORE", "QRESYNC", "IDLE", "LITERAL+", "OBJECTID")
# The largest UID IMAP allows (RFC 3501: nz-number is 32 bit).
_MAX_UID = 0xFFFFFFFF


# Maildir's own directories: a box component so named would land inside a mailbox.
_MAILDIR_DIRS = frozenset({"cur", "new", "tmp"})
# Linux's NAME_MAX for one component; a whole name well under PATH_MAX.
_MAX_COMPONENT_BYTES = 255
_MAX_NAME_BYTES = 1024


class IMAPBoxError(BoxError):
    """A box-level failure found by the IMAP driver (no channel known here)."""

    def __init__(self, store: str, box: str, message: str) -> None:
        super().__init__("", box, message)
        self.store = store
        self.args = (f"store {store}, box {box}: {message}",)

    def __str__(self) -> str:
        return str(self.args[0])


def check_box_name(name: str) -> str | None:
    """Why a server-offered canonical name is unsafe to use (CVE-2021-20247), or None.

    ``..`` components could climb out of a Maildir tree; control characters break state
    file names and terminals.
    """
    parts = name.split("/")
    if any(part == ".." for part in parts):
        return "has a '..' component"
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in name):
        return "contains control characters"
    if any(part in _MAILDIR_DIRS for part in parts):
        return "has a cur, new or tmp component, which a Maildir keeps for itself"
    if len(name.encode("utf-8")) > _MAX_NAME_BYTES or any(
        len(part.encode("utf-8")) > _MAX_COMPONENT_BYTES for part in parts
    ):
        return "is too long for a file name"
    return None


class IMAPStore(Store):
    """One IMAPStore of the config, over one imapclient connection reused for all its boxes."""

    crlf = True
    remote = True

    def __init__(
        self,
        cfg: IMAPStoreConfig,
        *,
        plugin_manager: Any = None,
        buffer_limit: int = DEFAULT_BUFFER_LIMIT,
    ) -> None:
        """``buffer_limit``: BufferLimit, the bytes of bodies in flight in either
        direction (two FETCH batches of half of it; one MULTIAPPEND of all of it)."""
        self.cfg = cfg
        self.name = cfg.name
        self.pm = plugin_manager
        self.buffer_limit = buffer_limit
        self.capabilities: frozenset[str] = frozenset()
        self.server_caps: frozenset[str] = frozenset()
        self.condstore = False
        # QRESYNC enabled: expunges can be asked for as VANISHED (EARLIER).
        self.qresync = False
        self.prefix = ""
        self.delimiter = "/"
        self._session: Session | None = None
        self._selected: IMAPBox | None = None
        # Statuses of the boxes as the last LIST-STATUS answered (canonical name -> status).
        self._listed_status: dict[str, BoxStatus] = {}
        # The warning that the server takes no new keywords was given (once per store).
        self.keyword_warned = False
        # Whether the server answers Dovecot's FETCH X-GUID (advertised nowhere): None
        # until a listing that wants server ids has asked (``IMAPBox.list_messages``).
        self.x_guid: bool | None = None

    # --- connection ----------------------------------------------------------------------

    @property
    def account(self) -> IMAPAccountConfig:
        if self.cfg.account is None:
            raise StoreError(self.name, "no IMAPAccount (Host, User...) configured")
        return self.cfg.account

    @property
    def session(self) -> Session:
        if self._session is None:
            raise ConnectionFailed(self.name, "not connected")
        if self._session.dead is not None:
            raise ConnectionFailed(self.name, f"connection unusable ({self._session.dead})")
        return self._session

    @property
    def message_size_limit(self) -> int:
        """The largest message body accepted (MessageSizeLimit; 0: no limit)."""
        limit = self.account.message_size_limit
        return limit if limit > 0 else 1 << 62

    def connect(self) -> None:
        if self._session is not None:
            return
        acc = self.account
        if not acc.host and not acc.tunnel:
            raise ConnectionFailed(self.name, "no Host configured", retryable=False)
        tls = acc.tls_type
        if acc.tunnel and tls != "none" and not acc.host:
            raise ConnectionFailed(
                self.name,
                f"TLSType {tls.upper()} through a Tunnel needs Host, to check the server "
                "certificate's name",
                retryable=False,
            )
        context = self._ssl_context(acc) if tls != "none" else None
        timeout = float(acc.timeout) if acc.timeout else None
        if acc.tunnel:
            client = self._open_tunnel(acc, context, timeout)
        else:
            client = self._open_tcp(acc, context, timeout)
        session = Session(client, self.name, timeout)
        try:
            self._start(session, acc, context)
        except BaseException:
            session.logout()
            raise
        self._session = session

    def _open_tcp(
        self, acc: IMAPAccountConfig, context: ssl.SSLContext | None, timeout: float | None
    ) -> Any:
        from imapclient import IMAPClient  # type: ignore[import-untyped]
        from imapclient.imapclient import SocketTimeout  # type: ignore[import-untyped]

        tls = acc.tls_type
        port = acc.port or (993 if tls == "imaps" else 143)
        where = f"{acc.host}:{port}"
        log.info("store %s: connecting to %s (%s)", self.name, where, tls)
        try:
            client = IMAPClient(
                acc.host,
                port=port,
                ssl=tls == "imaps",
                ssl_context=context,
                timeout=SocketTimeout(timeout, timeout),
            )
        except Exception as exc:  # noqa: BLE001 - boundary
            if _unreachable(exc):
                raise Unreachable(self.name, f"cannot connect to {where}: {exc}") from None
            err = translate(exc, self.name, f"connect to {where}")
            if isinstance(err, CommandFailed):
                err = ConnectionFailed(self.name, f"cannot connect to {where}: {err.text}")
            raise err from None
        return client

    def _open_tunnel(
        self, acc: IMAPAccountConfig, context: ssl.SSLContext | None, timeout: float | None
    ) -> Any:
        from syncmail.store.imaptunnel import TunnelError, open_tunnel

        assert acc.tunnel is not None
        log.info("store %s: starting tunnel (%s)", self.name, acc.tls_type)
        try:
            client = open_tunnel(
                acc.tunnel,
                host=acc.host or "",
                ssl_context=context if acc.tls_type == "imaps" else None,
                timeout=timeout,
            )
        except TunnelError as exc:
            raise ConnectionFailed(self.name, f"Tunnel: {exc}") from None
        except Exception as exc:  # noqa: BLE001 - boundary
            err = translate(exc, self.name, "the tunnel's greeting")
            if isinstance(err, CommandFailed):
                err = ConnectionFailed(self.name, f"Tunnel: {err.text}")
            raise err from None
        return client

    def _ssl_context(self, acc: IMAPAccountConfig) -> ssl.SSLContext:
        from syncmail.store.imaptls import client_context

        return client_context(self.name, acc)

    def _start(
        self, session: Session, acc: IMAPAccountConfig, context: ssl.SSLContext | None
    ) -> None:
        client = session.client
        disabled = {e.upper() for e in acc.disable_extensions}
        caps = session.capabilities() - disabled
        preauth = client._imap.state == "AUTH"
        if acc.tls_type == "starttls" and preauth:
            raise ConnectionFailed(
                self.name,
                "the server greeted with PREAUTH, so STARTTLS is impossible "
                "(use TLSType None with this Tunnel, or TLSType IMAPS)",
                retryable=False,
            )
        if acc.tls_type == "starttls":
            if "STARTTLS" not in caps:
                raise ConnectionFailed(
                    self.name,
                    "the server does not offer STARTTLS; refusing to continue unencrypted "
                    "(set TLSType None to allow a clear-text connection)",
                    retryable=False,
                )
            with session.guard("STARTTLS"):
                client.starttls(context)
            session.reinstall_reader()
            caps = session.capabilities() - disabled
        if "IMAP4REV1" not in caps:
            raise ConnectionFailed(
                self.name, "the server does not support IMAP4rev1", retryable=False
            )
        if not preauth:
            self._login(session, acc, caps)
            caps = session.capabilities() - disabled
        self.server_caps = caps
        if "X-GUID" in disabled:
            self.x_guid = False
        # imapclient consults its cached list too (LITERAL+ when sending literals, and
        # the commands it guards): it must see the masked one.
        client._cached_capabilities = tuple(c.encode() for c in sorted(caps))
        reported = frozenset(c.lower() for c in _REPORTED_CAPS if c in caps)
        # Box.copy_from: a server COPY is only of use when it names the new UIDs.
        self.capabilities = reported | ({"copy"} if "uidplus" in reported else set())
        if "ENABLE" in caps:
            wanted = [c for c in ("QRESYNC", "CONDSTORE") if c in caps]
            if wanted:
                with session.guard("ENABLE"):
                    enabled = {
                        (e.decode() if isinstance(e, bytes) else str(e)).upper()
                        for e in client.enable(*wanted)
                    }
                self.condstore = bool(enabled & {"CONDSTORE", "QRESYNC"})
                self.qresync = "QRESYNC" in enabled
        self._namespace(session, caps)

    def _login(self, session: Session, acc: IMAPAccountConfig, caps: frozenset[str]) -> None:
        mechs = [m.upper() for m in acc.auth_mechs] or ["*"]
        any_mech = "*" in mechs
        # As in mbsync, a Tunnel counts as a secure channel (it is usually ssh).
        encrypted = acc.tls_type != "none" or bool(acc.tunnel)
        sasl = {c[5:] for c in caps if c.startswith("AUTH=")}
        if sasl & set(_OAUTH_MECHS):
            mech = self._oauth_mechanism(acc, mechs, sasl, encrypted)
            if mech is not None:
                from syncmail.store.imapoauth import oauth_login

                oauth_login(self.name, session, acc, self.pm, mech, caps)
                return
        use_plain = "PLAIN" in sasl and ("PLAIN" in mechs or (any_mech and encrypted))
        use_login = "LOGINDISABLED" not in caps and ("LOGIN" in mechs or (any_mech and encrypted))
        if not (use_plain or use_login):
            if not encrypted and any_mech and ("PLAIN" in sasl or "LOGINDISABLED" not in caps):
                raise AuthenticationFailed(
                    self.name,
                    "refusing to send the password over an unencrypted connection; use TLSType "
                    "STARTTLS or IMAPS, or name LOGIN in AuthMechs to allow it",
                )
            offered = " ".join(sorted(sasl)) or "none"
            if "LOGINDISABLED" not in caps:
                offered += " (and LOGIN)"
            raise AuthenticationFailed(
                self.name,
                f"no acceptable authentication mechanism: server offers {offered}, "
                f"AuthMechs is {' '.join(acc.auth_mechs)}",
            )
        if not encrypted:
            log.warning("store %s: the password is being sent in the clear", self.name)
        try:
            user = credentials.get_user(acc, self.pm)
            password = credentials.get_password(acc, self.pm, user=user)
        except AuthenticationFailed as exc:
            raise AuthenticationFailed(self.name, exc.message) from None
        client = session.client
        try:
            with session.guard("LOGIN"):
                # LOGIN quoting is ASCII-only: AUTHENTICATE PLAIN carries UTF-8 credentials.
                if use_plain and (not use_login or not (user + password).isascii()):
                    client.plain_login(user, password)
                else:
                    client.login(user, password)
        except AuthenticationFailed:
            credentials.forget(acc)
            raise
        except CommandFailed as exc:
            credentials.forget(acc)
            raise AuthenticationFailed(self.name, f"login refused: {exc.text}") from None

    def _oauth_mechanism(
        self, acc: IMAPAccountConfig, mechs: list[str], sasl: set[str], encrypted: bool
    ) -> str | None:
        """The OAuth2 mechanism to log in with, or None for a password login.

        A mechanism named in AuthMechs is used when offered; ``*`` picks one only for an
        account that has a token source of syncmail's own, so that a password setup never
        turns into a token login because the server also offers OAuth2.
        """
        named = [m for m in _OAUTH_MECHS if m in mechs and m in sasl]
        if not named and "*" in mechs:
            if credentials.token_manager_account(acc) is not None:
                named = [m for m in _OAUTH_MECHS if m in sasl]
                if named and not (encrypted or _loopback(acc.host)):
                    raise AuthenticationFailed(
                        self.name,
                        "refusing to send an OAuth2 token over an unencrypted connection; use "
                        f"TLSType STARTTLS or IMAPS, or name {named[0]} in AuthMechs to allow it",
                    )
        return named[0] if named else None

    def _namespace(self, session: Session, caps: frozenset[str]) -> None:
        client = session.client
        delim: str | None = self.cfg.path_delimiter
        if self.cfg.path is not None:
            self.prefix = self.cfg.path
        elif self.cfg.use_namespace and "NAMESPACE" in caps:
            with session.guard("NAMESPACE"):
                ns = client.namespace()
            personal = ns.personal or ()
            if personal:
                prefix, sep = personal[0]
                try:
                    self.prefix = utf7.decode(_str(prefix)) if prefix else ""
                except ValueError as exc:
                    raise StoreError(self.name, f"invalid NAMESPACE prefix: {exc}") from None
                if delim is None and sep:
                    delim = _str(sep)
        if delim is None:
            with session.guard("LIST"):
                listed = client.list_folders("", "")
            for _flags, sep, _name in listed:
                if sep:
                    delim = _str(sep)
                    break
        self.delimiter = delim or "/"

    def close(self) -> None:
        if self._session is not None:
            self._session.logout()
            self._session = None
            self._selected = None

    # --- names ---------------------------------------------------------------------------

    def on_store_name(self, name: str) -> str:
        """The box name mbsync uses for this store in state file names.

        That is the canonical name with ``MapInbox`` resolved to INBOX and ``Flatten``
        applied, before the server's ``Path`` prefix and hierarchy delimiter (mbsync's
        ``box_name``); ``server_name`` gives the full server spelling.
        """
        if self.cfg.map_inbox and name == self.cfg.map_inbox:
            return "INBOX"
        flat = self.cfg.flatten
        if flat:
            if flat in name:
                raise IMAPBoxError(self.name, name, f"name contains the Flatten delimiter '{flat}'")
            name = name.replace("/", flat)
        return name

    def server_name(self, name: str) -> str:
        """The box name as the server spells it (prefix, delimiter; not UTF-7 encoded)."""
        name = self.on_store_name(name)
        if name.upper() == "INBOX":
            return "INBOX"
        if name.upper().startswith("INBOX/") and not self.prefix:
            name = "INBOX" + name[5:]
        if self.delimiter != "/":
            for part in name.split("/"):
                if self.delimiter in part:
                    raise IMAPBoxError(
                        self.name,
                        name,
                        f"name contains the server's hierarchy delimiter '{self.delimiter}'",
                    )
            name = name.replace("/", self.delimiter)
        return self.prefix + name

    def box_from_server(self, wire: str) -> str | None:
        """The box name of a mailbox name as the server sent it (UTF-7, prefix,
        delimiter), or None when it is outside this store or cannot be represented."""
        try:
            canonical = self._canonical(utf7.decode(wire))
        except ValueError:
            return None
        return None if canonical is None else self._from_store_name(canonical)

    def _wire_name(self, name: str) -> str:
        return utf7.encode(self.server_name(name))

    def _from_store_name(self, name: str) -> str | None:
        """Inverse of ``on_store_name`` for a listed name; None if it cannot be represented.

        INBOX stays INBOX: like mbsync, the store lists the MapInbox name *as well*.
        """
        if name == "INBOX":
            return name
        flat = self.cfg.flatten
        if flat:
            if "/" in name:
                log.warning(
                    "store %s: ignoring mailbox %r (hierarchy in a Flatten store)",
                    self.name,
                    name,
                )
                return None
            name = name.replace(flat, "/")
        return name

    def _canonical(self, server_name: str) -> str | None:
        """Canonical name of a LIST entry, or None when it is outside this store."""
        if server_name.upper() == "INBOX":
            return "INBOX"
        if self.prefix and server_name.startswith(self.prefix):
            rest = server_name[len(self.prefix) :]
        elif not self.prefix:
            rest = server_name
        elif server_name.upper().startswith("INBOX" + self.delimiter):
            rest = server_name
        else:
            return None
        if not rest:
            return None
        if self.delimiter != "/":
            if "/" in rest:
                log.warning(
                    "store %s: ignoring mailbox %s (reserved character '/' in name)",
                    self.name,
                    server_name,
                )
                return None
            rest = rest.replace(self.delimiter, "/")
        if rest.upper().startswith("INBOX/"):
            rest = "INBOX" + rest[5:]
        return rest

    def list_boxes(self, *, inbox: bool = True) -> list[str]:
        session = self.session
        client = session.client
        patterns = [utf7.encode(self.prefix) + "*"]
        if self.prefix:
            # INBOX lives outside any prefix; with an "INBOX." prefix only INBOX itself is left.
            patterns.append("INBOX" if self.prefix.upper().startswith("INBOX") else "INBOX*")
        seen: dict[str, None] = {}
        with_status = self._lists_status()
        self._listed_status = {}
        for pattern in patterns:
            statuses: dict[bytes, BoxStatus] = {}
            with session.guard("LSUB" if self.cfg.subscribed_only else "LIST"):
                if self.cfg.subscribed_only:
                    entries = client.list_sub_folders("", pattern)
                elif with_status:
                    entries, statuses = session.list_status(pattern, _status_of)
                else:
                    entries = client.list_folders("", pattern)
            for box_flags, _sep, raw in entries:
                canonical = self.accept_listed(box_flags, raw)
                if canonical is None:
                    continue
                seen.setdefault(canonical, None)
                status = statuses.get(raw if isinstance(raw, bytes) else str(raw).encode())
                if status is not None:
                    self._listed_status[canonical] = status
        if self.cfg.map_inbox:
            seen.setdefault(self.cfg.map_inbox, None)
        return sorted(seen, key=lambda n: (n != "INBOX", n))

    def _lists_status(self) -> bool:
        """Whether LIST can return every box's status in one round trip (RFC 5819) with
        the HIGHESTMODSEQ the fast path compares (CONDSTORE enabled)."""
        return "LIST-STATUS" in self.server_caps and self.condstore

    def peek_status(self, name: str) -> BoxStatus | None:
        return self._listed_status.pop(name, None)

    def forget_statuses(self) -> None:
        self._listed_status = {}

    def accept_listed(self, box_flags: Iterable[Any], raw: Any) -> str | None:
        """Canonical name of one LIST/LSUB entry, or None when it must be ignored.

        Unselectable and foreign entries are skipped quietly; unsafe names (mbsync's
        CVE-2021-20247 rule: ``..`` components) with a warning naming them.
        """
        attrs = {_str(f).lower() for f in box_flags}
        if "\\noselect" in attrs or "\\nonexistent" in attrs:
            return None
        name = self._decode_listed(raw)
        if name is None:
            return None
        canonical = self._canonical(name)
        if canonical is None or canonical.endswith(".lock"):
            return None
        canonical = self._from_store_name(canonical)
        if canonical is None:
            return None
        why = check_box_name(canonical)
        if why is None and any(p in ("", ".") for p in canonical.split("/")):
            why = "has an empty or '.' component"
        if why is not None:
            log.warning(
                "Warning: store %s: ignoring mailbox %s (unsafe name: %s)",
                self.name, shorten(repr(name), 80), why,
            )
            return None
        return canonical

    def _decode_listed(self, raw: Any) -> str | None:
        text = str(raw) if isinstance(raw, int) else _str(raw)
        try:
            return utf7.decode(text)
        except (ValueError, UnicodeDecodeError):
            log.warning(
                "Warning: store %s: ignoring mailbox %s (invalid modified UTF-7)",
                self.name, shorten(repr(text), 80),
            )
            return None

    # --- boxes ---------------------------------------------------------------------------

    def open_box(self, name: str, *, create: bool = False) -> Box:
        if check_box_name(name) is not None:
            raise IMAPBoxError(self.name, name, f"unsafe box name ({check_box_name(name)})")
        from syncmail.store.imapbox import IMAPBox

        box = IMAPBox(self, name)
        try:
            box.select()
        except CommandFailed as exc:
            if not _means_missing(exc.text):
                raise IMAPBoxError(self.name, name, f"cannot select: {exc.text}") from None
            if not create:
                raise BoxMissing(
                    f"store {self.name}: box {name} does not exist ({exc.text})"
                ) from None
            self.create_box(name)
            try:
                box.select()
            except CommandFailed as exc2:
                raise IMAPBoxError(self.name, name, f"cannot select: {exc2.text}") from None
        return box

    def create_box(self, name: str) -> None:
        try:
            self.session.simple("CREATE", _quote(self._wire_name(name)))
        except CommandFailed as exc:
            if "ALREADYEXISTS" not in exc.text.upper():
                raise IMAPBoxError(self.name, name, f"cannot create: {exc.text}") from None

    def delete_box(self, name: str) -> None:
        session = self.session
        if self._selected is not None and self._selected.name == name:
            try:
                session.simple("UNSELECT" if "UNSELECT" in self.server_caps else "CLOSE")
            except CommandFailed:
                pass
            session.client._imap.state = "AUTH"
            self._selected = None
        try:
            session.simple("DELETE", _quote(self._wire_name(name)))
        except CommandFailed as exc:
            raise IMAPBoxError(self.name, name, f"cannot delete: {exc.text}") from None


def _loopback(host: str | None) -> bool:
    """Whether ``host`` is this machine (a token sent there never crosses a network)."""
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    import ipaddress

    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _unreachable(exc: Exception) -> bool:
    """Whether opening the TCP connection failed (nothing of IMAP happened yet)."""
    if isinstance(exc, (ConnectionRefusedError, socket.gaierror)):
        return True
    return isinstance(exc, OSError) and exc.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH)


def _status_of(items: dict[bytes, int]) -> BoxStatus | None:
    """A box's status from a LIST-STATUS answer, when it has what SELECT would give."""
    uidvalidity, uidnext = items.get(b"UIDVALIDITY"), items.get(b"UIDNEXT")
    modseq = items.get(b"HIGHESTMODSEQ")
    if not uidvalidity or not uidnext or not 0 < uidvalidity <= _MAX_UID or modseq is None:
        return None
    return BoxStatus(uidvalidity, uidnext, change_marker=str(modseq))


def _str(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _means_missing(text: str) -> bool:
    """Whether a failed SELECT's text says the box does not exist (RFC 5530 NONEXISTENT,
    or a plain NO without a code, as older servers answer); any other code (SERVERBUG,
    UNAVAILABLE, NOPERM...) or a BAD is a failure, not a box to create."""
    if "command error: BAD" in text:
        return False
    # re.match, not a module-level pattern: compiled only when a SELECT fails.
    m = re.match(r"\[([A-Z-]+)", text.strip())
    return m is None or m.group(1).upper() == "NONEXISTENT"


def _quote(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
