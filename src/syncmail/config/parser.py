"""Reads an mbsyncrc into the frozen ``syncmail.config.model`` objects (mbsync.md section 1).

Every problem of a file is collected and raised as one ``ConfigError``; notices about
deprecated spellings go to ``log.warning`` as ``file:line: notice: ...``, and what is
accepted but differs from mbsync 1.5 as ``file:line: warning: ...`` (scripts filter on it).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable
from dataclasses import field
from typing import Any

from syncmail.config.lexer import Line, lex
from syncmail.config.locate import default_config_path
from syncmail.config.model import (
    BoxRef,
    ChannelConfig,
    Config,
    ExtraKeyword,
    GlobalConfig,
    GroupConfig,
    GroupMember,
    IMAPAccountConfig,
    IMAPStoreConfig,
    Location,
    MaildirStoreConfig,
    PluginSection,
    Side,
    StoreConfig,
    SubFolders,
    TLSType,
)
from syncmail.config.ops import BOX_OPS, NOTICE_MASTER_SLAVE, OpsBuilder, both_expunge_problem
from syncmail.config.selection import split_channel_arg
from syncmail.config.values import expand_path, parse_bool, parse_int, parse_size
from syncmail.errors import ConfigError, ConfigProblem
from syncmail.record import record

log = logging.getLogger(__name__)

CORE_SECTIONS = ("IMAPAccount", "IMAPStore", "MaildirStore", "Channel", "Group")
_EXTRA_SECTIONS = ("Global", "IMAPAccount", "IMAPStore", "MaildirStore", "Channel")

DISABLE_EXTENSIONS = (
    "IMAP4REV1", "LOGINDISABLED", "SASL-IR", "STARTTLS", "UIDPLUS", "LITERAL+", "LITERAL-",
    "MOVE", "NAMESPACE", "UTF8=ACCEPT", "UTF8=ONLY", "COMPRESS=DEFLATE",
    # syncmail only (mbsync does not use them, and rejects these names):
    "CONDSTORE", "QRESYNC", "OBJECTID", "X-GUID",
)  # fmt: skip
_TLS_TYPES: dict[str, TLSType] = {"none": "none", "starttls": "starttls", "imaps": "imaps"}
_SUBFOLDERS: dict[str, SubFolders] = {
    "verbatim": "verbatim", "maildir++": "maildir++", "legacy": "legacy",
}  # fmt: skip
_TLS_VERSIONS = ("1.0", "1.1", "1.2", "1.3")
_DEFAULT_TLS_VERSIONS = frozenset({"1.2", "1.3"})
_PATH_KEYS = {
    "certificatefile": "certificate_file",
    "clientcertificate": "client_certificate",
    "clientkey": "client_key",
}
_LEGACY_SSL = ("useimaps", "requiressl", "usesslv2", "usesslv3",
               "usetlsv1", "usetlsv1.1", "usetlsv1.2", "usetlsv1.3")  # fmt: skip


# --------------------------------------------------------------------------------------
# Entry points


def load_config(path: str | None, *, extra_keywords: Iterable[ExtraKeyword] = ()) -> Config:
    """Read the config file ``path`` (``None``: mbsync's default lookup) and parse it."""
    if path is None:
        path = default_config_path()
    else:
        path = os.path.expanduser(path)
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise ConfigError([ConfigProblem(path, 0, f"cannot read config file: {reason}")]) from None
    if not looks_like_text(data):
        raise ConfigError([ConfigProblem(path, 0, "not a text config file")])
    # mbsync reads bytes: a Latin-1 password must reach the server as written.
    text = data.decode("utf-8", errors="surrogateescape")
    return parse_config(text, path, extra_keywords=extra_keywords)


# Bytes no text config holds: C0 controls but the whitespace isspace() knows, and DEL.
_CONTROL_BYTES = frozenset(range(32)) - {9, 10, 11, 12, 13} | {127}


def looks_like_text(data: bytes) -> bool:
    """False for a file that is clearly not a config (an encrypted ``.gpg``, a binary).

    A NUL byte decides; otherwise control bytes and bytes that are not UTF-8 must stay
    rare, so a config with a few Latin-1 letters (a password) still reads as text.
    """
    if b"\0" in data:
        return False
    text = data.decode("utf-8", errors="surrogateescape")
    odd = sum(1 for c in text if 0xDC80 <= ord(c) <= 0xDCFF or ord(c) in _CONTROL_BYTES)
    return odd * 4 <= len(text)


def parse_config(
    text: str, path: str, *, extra_keywords: Iterable[ExtraKeyword] = ()
) -> Config:
    """Parse the text of an mbsyncrc read from ``path`` (used for messages and relative paths)."""
    return _Parser(text, path, extra_keywords).run()


# Keywords whose value may be a secret, or hold one: never quoted in a message.
_SECRET_KEYWORDS = frozenset({"pass", "passcmd"})


# --------------------------------------------------------------------------------------
# The parser


@record
class _Cmd:
    """One keyword line: ``args`` has at least one element."""

    line: int
    keyword: str
    args: tuple[str, ...]

    @property
    def low(self) -> str:
        return self.keyword.lower()

    @property
    def value(self) -> str:
        return self.args[0]


@record
class _Extras:
    """Plugin keywords by section kind, lower-case keyword -> canonical spelling."""

    by_section: dict[str, dict[str, str]] = field(default_factory=dict)
    # Plugin section kinds: lower-case section word -> canonical spelling.
    sections: dict[str, str] = field(default_factory=dict)

    @classmethod
    def build(cls, keywords: Iterable[ExtraKeyword]) -> _Extras:
        extras = cls()
        core = {name.lower(): name for name in _EXTRA_SECTIONS}
        for kw in keywords:
            kind = core.get(kw.section.lower())
            if kind is None:
                kind = extras.sections.setdefault(kw.section.lower(), kw.section)
            extras.by_section.setdefault(kind, {}).setdefault(kw.keyword.lower(), kw.keyword)
        return extras

    def lookup(self, section: str, low: str) -> str | None:
        return self.by_section.get(section, {}).get(low)


class _Parser:
    def __init__(self, text: str, path: str, extra_keywords: Iterable[ExtraKeyword]) -> None:
        self.text = text
        self.path = path
        self.base_dir = os.path.dirname(os.path.abspath(path))
        self.extras = _Extras.build(extra_keywords)
        self.problems: list[ConfigProblem] = []
        self.notices: dict[str, int] = {}
        self.stores: dict[str, StoreConfig] = {}
        self.accounts: dict[str, IMAPAccountConfig] = {}
        self.channels: dict[str, ChannelConfig] = {}
        self.groups: dict[str, GroupConfig] = {}
        self.plugin_sections: dict[str, dict[str, PluginSection]] = {}
        self.globals = GlobalConfig()
        self.field_delimiter = ":"
        self.global_values: dict[str, Any] = {}

    # -- reporting ----------------------------------------------------------------------

    def error(self, line: int, message: str) -> None:
        self.problems.append(ConfigProblem(self.path, line, message))

    def warning(self, line: int, message: str) -> None:
        log.warning("%s:%d: warning: %s", self.path, line, message)

    def notice(self, line: int, message: str) -> None:
        # mbsync prints each deprecation notice once per file.
        if message not in self.notices:
            self.notices[message] = line
            log.warning("%s:%d: notice: %s", self.path, line, message)

    def one(self, cmd: _Cmd) -> str:
        """The value of a single-valued keyword; extra tokens are an error, as in mbsync
        (whose message quotes the token, except where it may be part of a secret)."""
        if len(cmd.args) > 1:
            if cmd.low in _SECRET_KEYWORDS:
                self.error(
                    cmd.line,
                    f"excess token after the value of {cmd.keyword} (not shown: it may be "
                    "part of the secret; put a value with spaces in double quotes)",
                )
            else:
                self.error(cmd.line, f"excess token '{cmd.args[1]}'")
        return cmd.value

    def convert(self, cmd: _Cmd, fn: Callable[[str], Any], default: Any) -> Any:
        try:
            return fn(self.one(cmd))
        except ValueError as exc:
            self.error(cmd.line, str(exc))
            return default

    def path_value(self, cmd: _Cmd) -> str | None:
        try:
            return expand_path(self.one(cmd), self.base_dir)
        except ValueError as exc:
            self.error(cmd.line, str(exc))
            return None

    # -- structure ----------------------------------------------------------------------

    def run(self) -> Config:
        lines = list(lex(self.text))
        index = 0
        seen_section = False
        global_values = self.global_values
        global_ops = OpsBuilder()
        global_extra: dict[str, str] = {}
        while index < len(lines):
            line = lines[index]
            index += 1
            if len(line.words) == 1 and self.section_kind(line.words[0].lower()):
                self.error(line.number, "parameter missing")
                _, index = self.take_body(lines, index)
                continue
            cmd = self.command(line)
            if cmd is None:
                continue
            kind = self.section_kind(cmd.low)
            if kind is not None:
                body, index = self.take_body(lines, index)
                self.section(kind, cmd, body)
                seen_section = True
                continue
            if not self.global_option(cmd, global_values, global_ops, global_extra):
                self.error(
                    cmd.line,
                    f"'{cmd.keyword}' is not a recognized section-starting or global keyword",
                )
                # Like mbsync, skip the rest of this block instead of misreading it.
                _, index = self.take_body(lines, index)
                continue
            if seen_section:
                self.error(cmd.line, "global options may not follow sections")
        self.finish_globals(global_values, global_ops, global_extra)
        if self.problems:
            # Body lines are tokenized before their section is interpreted: report in file order.
            raise ConfigError(sorted(self.problems, key=lambda p: p.line))
        return Config(
            path=self.path,
            globals=self.globals,
            stores=self.stores,
            accounts=self.accounts,
            channels=self.channels,
            groups=self.groups,
            plugin_sections=self.plugin_sections,
        )

    def command(self, line: Line) -> _Cmd | None:
        """The keyword line, or None for blank/broken lines (broken ones are reported)."""
        if line.error is not None:
            self.error(line.number, line.error)
            return None
        if not line.words:
            return None
        if line.too_long:
            self.warning(line.number, "line is longer than 1023 characters; mbsync would split it")
        if len(line.words) < 2:
            self.error(line.number, "parameter missing")
            return None
        return _Cmd(line.number, line.words[0], line.words[1:])

    def take_body(self, lines: list[Line], index: int) -> tuple[list[_Cmd], int]:
        """The keyword lines up to the next blank line (or EOF), and the index after it."""
        body: list[_Cmd] = []
        while index < len(lines):
            line = lines[index]
            index += 1
            if line.blank:
                break
            cmd = self.command(line)
            if cmd is not None:
                body.append(cmd)
        return body, index

    def section_kind(self, low: str) -> str | None:
        for name in CORE_SECTIONS:
            if low == name.lower():
                return name
        return self.extras.sections.get(low)

    def section(self, kind: str, header: _Cmd, body: list[_Cmd]) -> None:
        name = self.one(header) if kind != "Group" else header.value
        where = Location(self.path, header.line)
        if kind == "IMAPAccount":
            account = self.imap_account(name, where, body)
            self.register(self.accounts, "IMAPAccount", name, account, where)
        elif kind == "IMAPStore":
            self.register(self.stores, "Store", name, self.imap_store(name, where, body), where)
        elif kind == "MaildirStore":
            store = self.maildir_store(name, where, body)
            self.register(self.stores, "Store", name, store, where)
        elif kind == "Channel":
            channel = self.channel(name, where, body)
            if channel is not None:
                self.register(self.channels, "Channel", name, channel, where)
        elif kind == "Group":
            self.register(self.groups, "Group", name, self.group(header, where, body), where)
        else:
            self.plugin_section(kind, name, where, body)

    def register(self, table: dict[str, Any], what: str, name: str, obj: Any, at: Location) -> None:
        if name in table:
            # mbsync looks objects up by first match, so a later duplicate is dead text.
            first = table[name].defined_at
            self.warning(at.line, f"{what} '{name}' is already defined at line {first.line}; "
                         "this one is ignored")
            return
        table[name] = obj

    # -- global section -----------------------------------------------------------------

    def global_option(
        self,
        cmd: _Cmd,
        values: dict[str, Any],
        ops: OpsBuilder,
        extra: dict[str, str],
    ) -> bool:
        low = cmd.low
        if low == "fsync":
            values["fsync"] = self.convert(cmd, parse_bool, True)
        elif low == "fielddelimiter":
            value = self.one(cmd)
            problem = _delimiter_problem(value, "Field")
            if problem:
                self.error(cmd.line, problem)
            else:
                values["field_delimiter"] = self.field_delimiter = value
        elif low == "bufferlimit":
            limit = self.convert(cmd, parse_size, None)
            if limit == 0:
                self.error(cmd.line, "BufferLimit cannot be zero")
            elif limit is not None:
                values["buffer_limit"] = limit
        elif low == "disableplugins":
            values["disable_plugins"] = values.get("disable_plugins", ()) + cmd.args
        elif self.channel_common(cmd, values, ops, channel=None):
            pass
        elif (canonical := self.extras.lookup("Global", low)) is not None:
            extra[canonical] = " ".join(cmd.args)
        else:
            return False
        return True

    def finish_globals(
        self, values: dict[str, Any], ops: OpsBuilder, extra: dict[str, str]
    ) -> None:
        merged = self.merge_ops(ops, "in global config section", ops.first_line)
        problem = both_expunge_problem(merged, "")
        if problem:
            problem = problem.replace(" of Channel ''", " in global config section")
            self.error(ops.first_line, problem)
        self.globals = GlobalConfig(ops=merged, extra=extra, **values)

    def merge_ops(self, ops: OpsBuilder, context: str, line: int) -> Any:
        for message in ops.notices:
            self.notice(line, message)
        try:
            return ops.merge(context)
        except ValueError as exc:
            self.error(line, str(exc))
            return ops.__class__().merge(context)

    def channel_common(
        self, cmd: _Cmd, values: dict[str, Any], ops: OpsBuilder, channel: str | None
    ) -> bool:
        """Options shared by the global section and channels (isync's ``getopt_helper``)."""
        low = cmd.low
        if low == "sync":
            for message in ops.sync_words(cmd.args):
                self.error(cmd.line, message)
            for message in ops.notices:
                self.notice(cmd.line, message)
            ops.notices.clear()
        elif low in {name.lower() for name in BOX_OPS}:
            op = next(name for name in BOX_OPS if name.lower() == low)
            for message in ops.box_words(op, cmd.args):
                self.error(cmd.line, message)
            for message in ops.notices:
                self.notice(cmd.line, message)
            ops.notices.clear()
        elif low == "syncstate":
            if self.one(cmd) == "*":
                values["sync_state"] = "*"
            else:
                values["sync_state"] = self.path_value(cmd)
        elif low == "copyarrivaldate":
            values["copy_arrival_date"] = self.convert(cmd, parse_bool, None)
        elif low == "maxmessages":
            values["max_messages"] = self.convert(cmd, parse_int, 0)
        elif low == "expireunread":
            values["expire_unread"] = self.convert(cmd, parse_bool, None)
        elif low == "maxdeletepercent":
            # syncmail only (mbsync rejects it): the deletion safety rail.
            percent = self.convert(cmd, parse_int, None)
            if percent is not None and not 0 <= percent <= 100:
                self.error(cmd.line, "MaxDeletePercent must be between 0 and 100")
            elif percent is not None:
                values["max_delete_percent"] = percent
        elif low == "keywordconflict":
            # syncmail only: the keyword merge without a base (syncmail.sync.keywords).
            policy = self.one(cmd).lower()
            if policy not in ("add", "far", "near"):
                self.error(cmd.line, f"KeywordConflict must be add, far or near, not '{policy}'")
            else:
                values["keyword_conflict"] = policy
        elif low == "detectmoves":
            # syncmail only: moves between the channel's boxes (syncmail.sync.moves).
            values["detect_moves"] = self.convert(cmd, parse_bool, None)
        elif low == "expireside":
            value = self.one(cmd)
            side: Side | None = {"far": "far", "near": "near"}.get(value.lower())  # type: ignore[assignment]
            if side is None:
                self.error(cmd.line, f"invalid ExpireSide argument '{value}'")
            else:
                values["expire_side"] = side
        else:
            return False
        if low in ("sync", "create", "remove", "expunge", "expungesolo"):
            ops.first_line = ops.first_line or cmd.line
        return True

    # -- stores -------------------------------------------------------------------------

    def generic_store(self, cmd: _Cmd, values: dict[str, Any], kind: str) -> bool:
        low = cmd.low
        if low == "trash":
            values["trash"] = self.one(cmd)
        elif low in ("trashnewonly", "trashremotenew"):
            key = "trash_new_only" if low == "trashnewonly" else "trash_remote_new"
            values[key] = self.convert(cmd, parse_bool, False)
        elif low == "maxsize":
            values["max_size"] = self.convert(cmd, parse_size, 0)
        elif low == "mapinbox":
            values["map_inbox"] = self.one(cmd)
        elif low == "flatten":
            value = self.one(cmd)
            if "/" in value:
                self.error(
                    cmd.line,
                    "flattened hierarchy delimiter cannot contain the canonical delimiter '/'",
                )
            else:
                values["flatten"] = value
        elif (canonical := self.extras.lookup(kind, low)) is not None:
            values.setdefault("extra", {})[canonical] = " ".join(cmd.args)
        else:
            return False
        return True

    def maildir_store(self, name: str, where: Location, body: list[_Cmd]) -> MaildirStoreConfig:
        values: dict[str, Any] = {"info_delimiter": self.field_delimiter}
        for cmd in body:
            low = cmd.low
            if low == "inbox":
                values["inbox"] = self.path_value(cmd)
            elif low == "path":
                values["path"] = self.path_value(cmd)
            elif low == "altmap":
                values["alt_map"] = self.convert(cmd, parse_bool, False)
            elif low == "keywordletters":
                values["keyword_letters"] = self.convert(cmd, parse_bool, False)
            elif low == "infodelimiter":
                value = self.one(cmd)
                problem = _delimiter_problem(value, "Info")
                if problem:
                    self.error(cmd.line, problem)
                else:
                    values["info_delimiter"] = value
            elif low == "subfolders":
                style = _SUBFOLDERS.get(self.one(cmd).lower())
                if style is None:
                    self.error(cmd.line, "Unrecognized SubFolders style")
                else:
                    values["subfolders"] = style
            elif not self.generic_store(cmd, values, "MaildirStore"):
                self.unknown(cmd, "MaildirStore")
        if not values.get("inbox"):
            values["inbox"] = expand_path("~/Maildir", self.base_dir)
        path = values.get("path")
        if path:
            inbox = values["inbox"]
            if values.get("subfolders") == "maildir++":
                self.error(
                    where.line,
                    f"Maildir store '{name}': Setting Path is incompatible with "
                    "'SubFolders Maildir++'",
                )
            elif path.startswith(inbox) and path[len(inbox):].startswith("/"):
                # mbsync 1.5 rejects this, 1.4 accepts it; real configs exist for both.
                self.warning(where.line, f"Maildir store '{name}': Path is nested under Inbox "
                             "(mbsync 1.4 accepts this, 1.5 rejects it)")
        return MaildirStoreConfig(name=name, defined_at=where, **values)

    def imap_store(self, name: str, where: Location, body: list[_Cmd]) -> IMAPStoreConfig:
        values: dict[str, Any] = {}
        account_cmds: list[_Cmd] = []
        account_name: str | None = None
        for cmd in body:
            low = cmd.low
            if low == "account":
                account_name = self.one(cmd)
                if account_name not in self.accounts:
                    self.error(cmd.line, f"unknown IMAP account '{account_name}'")
            elif low == "usenamespace":
                values["use_namespace"] = self.convert(cmd, parse_bool, True)
            elif low == "subscribedonly":
                values["subscribed_only"] = self.convert(cmd, parse_bool, False)
            elif low == "watchidlebox":
                values["watch_idle_box"] = self.one(cmd)
            elif low == "path":
                values["path"] = self.one(cmd)
            elif low == "pathdelimiter":
                value = self.one(cmd)
                if len(value) != 1:
                    self.error(cmd.line, "Path delimiter must be exactly one character long")
                else:
                    values["path_delimiter"] = value
            elif self.is_account_keyword(low):
                account_cmds.append(cmd)
            elif not self.generic_store(cmd, values, "IMAPStore"):
                self.unknown(cmd, "IMAPStore")
        account: IMAPAccountConfig | None
        if account_name is not None:
            if account_cmds:
                self.error(where.line, f"IMAP store '{name}' has both Account and "
                           "account-specific options")
            account = self.accounts.get(account_name)
        else:
            account = self.imap_account(name, where, account_cmds, kind="IMAP store")
        return IMAPStoreConfig(name=name, defined_at=where, account=account, **values)

    def is_account_keyword(self, low: str) -> bool:
        return low in _ACCOUNT_KEYWORDS or self.extras.lookup("IMAPAccount", low) is not None

    def imap_account(
        self, name: str, where: Location, body: list[_Cmd], kind: str = "IMAP account"
    ) -> IMAPAccountConfig:
        values: dict[str, Any] = {}
        extra: dict[str, str] = {}
        legacy: dict[str, bool] = {}
        tls_explicit = False
        versions: set[str] = set(_DEFAULT_TLS_VERSIONS)
        version_line = 0
        require_cram: bool | None = None
        auth_mechs: list[str] = []
        section = "IMAPAccount" if kind == "IMAP account" else "IMAPStore"
        for cmd in body:
            low = cmd.low
            if low in ("host", "user", "usercmd", "pass", "passcmd", "tunnel", "cipherstring"):
                key = {"usercmd": "user_cmd", "passcmd": "pass_cmd", "pass": "password",
                       "cipherstring": "cipher_string"}.get(low, low)  # fmt: skip
                values[key] = self.one(cmd)
            elif low == "usekeychain":
                # mbsync has the keyword only in macOS builds; "no" is harmless anywhere.
                if self.convert(cmd, parse_bool, False):
                    self.error(cmd.line, "UseKeychain is only available on macOS")
            elif low == "port":
                port = self.convert(cmd, parse_int, None)
                if port is not None and not 0 <= port <= 0xFFFF:
                    self.error(cmd.line, "Invalid port number")
                elif port is not None:
                    values["port"] = port
            elif low == "timeout":
                values["timeout"] = self.convert(cmd, parse_int, 20)
            elif low == "messagesizelimit":
                limit = self.convert(cmd, parse_size, None)
                if limit is not None:
                    values["message_size_limit"] = limit
            elif low == "pipelinedepth":
                depth = self.convert(cmd, parse_int, None)
                if depth is not None and depth < 1:
                    self.error(cmd.line, "PipelineDepth must be at least 1")
                elif depth is not None:
                    values["pipeline_depth"] = depth
            elif low in ("disableextension", "disableextensions"):
                found = set(values.get("disable_extensions", ()))
                for arg in cmd.args:
                    if arg.upper() in DISABLE_EXTENSIONS:
                        found.add(arg.upper())
                    else:
                        self.error(cmd.line, f"Unrecognized IMAP extension '{arg}'")
                values["disable_extensions"] = frozenset(found)
            elif low in ("certificatefile", "clientcertificate", "clientkey"):
                path = self.path_value(cmd)
                if path is not None:
                    if not os.access(path, os.R_OK):
                        reason = "No such file or directory" if not os.path.exists(path) \
                            else "Permission denied"
                        self.error(cmd.line, f"{cmd.keyword} '{path}': {reason}")
                    values[_PATH_KEYS[low]] = path
            elif low == "systemcertificates":
                values["system_certificates"] = self.convert(cmd, parse_bool, True)
            elif low == "tlsversions":
                version_line = version_line or cmd.line
                for arg in cmd.args:
                    if arg[:1] not in ("+", "-"):
                        self.error(cmd.line, "TLSVersions arguments must start with +/-")
                        version_line = -1
                    elif arg[1:] not in _TLS_VERSIONS:
                        self.error(cmd.line, f"Unrecognized TLS version '{arg[1:]}'")
                        version_line = -1
                    elif arg[0] == "+":
                        versions.add(arg[1:])
                    else:
                        versions.discard(arg[1:])
                tls_explicit = True
            elif low in ("sslversions", "sslversion"):
                self.notice(cmd.line, "SSLVersions is deprecated. Use TLSVersions instead.")
                version_line = version_line or cmd.line
                versions = set()
                for arg in cmd.args:
                    if arg.lower() in ("sslv2", "sslv3"):
                        self.warning(cmd.line, f"SSLVersion {arg} is no longer supported; "
                                     "ignoring it")
                    elif arg.lower().startswith("tlsv1") and \
                            (ver := "1." + (arg[6:] or "0")) in _TLS_VERSIONS and \
                            arg[5:6] in ("", "."):
                        versions.add(ver)
                    else:
                        self.error(cmd.line, "Unrecognized SSL version")
                        version_line = -1
                if not versions:
                    # Only SSLv2/SSLv3 were named: mbsync ignores them, so the default holds.
                    versions = set(_DEFAULT_TLS_VERSIONS)
                tls_explicit = True
            elif low in ("tlstype", "ssltype"):
                if low == "ssltype":
                    self.notice(cmd.line, "SSLType is deprecated. Use TLSType instead.")
                tls = _TLS_TYPES.get(self.one(cmd).lower())
                if tls is None:
                    self.error(cmd.line, "Invalid TLS type")
                else:
                    values["tls_type"] = tls
                tls_explicit = True
            elif low in ("authmech", "authmechs"):
                auth_mechs.extend(cmd.args)
            elif low == "requirecram":
                require_cram = self.convert(cmd, parse_bool, False)
            elif low in _LEGACY_SSL:
                self.legacy_ssl(cmd, legacy)
            elif (canonical := self.extras.lookup("IMAPAccount", low)) is not None:
                extra[canonical] = " ".join(cmd.args)
            else:
                self.unknown(cmd, section)
        if legacy:
            if tls_explicit:
                self.error(where.line, f"{kind} '{name}': The deprecated UseSSL*, UseTLS*, "
                           "UseIMAPS, and RequireSSL options are mutually exclusive with "
                           "SSLType and SSLVersions.")
            else:
                self.notice(where.line, f"{kind} '{name}': UseSSL*, UseTLS*, UseIMAPS, and "
                            "RequireSSL are deprecated. Use TLSType and TLSVersions instead.")
                values["tls_type"] = self.legacy_tls_type(legacy, where, kind, name)
        if version_line:
            # (-1: a version word was already reported as wrong.)
            problem = tls_versions_problem(versions) if version_line > 0 else None
            if problem:
                self.error(version_line, problem)
            values["tls_versions"] = tuple(f"+{v}" if v in versions else f"-{v}"
                                           for v in _TLS_VERSIONS)
        if require_cram is not None:
            if auth_mechs:
                self.error(where.line, f"{kind} '{name}': The deprecated RequireCRAM option "
                           "is mutually exclusive with AuthMech.")
            else:
                self.notice(where.line, f"{kind} '{name}': RequireCRAM is deprecated. "
                            "Use AuthMech instead.")
                if require_cram:
                    auth_mechs = ["CRAM-MD5"]
        if auth_mechs:
            values["auth_mechs"] = tuple(auth_mechs)
        self.account_problems(values, kind, name, where)
        if "tls_type" not in values:
            values["tls_type"] = "none" if values.get("tunnel") else "starttls"
        if "port" not in values:
            values["port"] = 993 if values["tls_type"] == "imaps" else 143
        return IMAPAccountConfig(name=name, defined_at=where, extra=extra, **values)

    def account_problems(self, values: dict[str, Any], kind: str, name: str, at: Location) -> bool:
        """mbsync's consistency checks, in its order; reports the first problem found."""
        if not values.get("tunnel") and not values.get("host"):
            self.error(at.line, f"{kind} '{name}' has neither Tunnel nor Host")
            return True
        for first, second, key1, key2 in (
            ("User", "UserCmd", "user", "user_cmd"),
            ("Pass", "PassCmd", "password", "pass_cmd"),
        ):
            if values.get(key1) is not None and values.get(key2) is not None:
                self.error(at.line, f"{kind} '{name}' has both {first} and {second}")
                return True
        return False

    def legacy_ssl(self, cmd: _Cmd, legacy: dict[str, bool]) -> None:
        low = cmd.low
        if low in ("usesslv2", "usesslv3"):
            self.warning(cmd.line, f"{cmd.keyword} is no longer supported; ignoring it")
            return
        legacy[low] = self.convert(cmd, parse_bool, False)

    def legacy_tls_type(
        self, legacy: dict[str, bool], where: Location, kind: str, name: str
    ) -> TLSType:
        """mbsync 1.4's mapping of UseIMAPS/RequireSSL/UseTLSv* onto the TLS type."""
        if legacy.get("useimaps"):
            return "imaps"
        if legacy.get("requiressl", True):
            return "starttls"
        any_version = legacy.get("usetlsv1", True) or any(
            legacy.get(key) for key in ("usetlsv1.1", "usetlsv1.2", "usetlsv1.3")
        )
        if not any_version:
            return "none"
        self.notice(where.line, f"{kind} '{name}': 'RequireSSL no' is being ignored")
        return "starttls"

    def unknown(self, cmd: _Cmd, section: str) -> None:
        self.error(cmd.line, f"keyword '{cmd.keyword}' is not recognized in {section} sections")

    # -- channels and groups ------------------------------------------------------------

    def channel(self, name: str, where: Location, body: list[_Cmd]) -> ChannelConfig | None:
        # Like mbsync, a channel starts from the global values in force where it is defined.
        values: dict[str, Any] = {
            key: self.global_values[key]
            for key in (
                "max_messages", "expire_unread", "expire_side", "copy_arrival_date",
                "max_delete_percent", "keyword_conflict", "detect_moves",
            )
            if self.global_values.get(key) is not None
        }
        ops = OpsBuilder()
        ends: dict[Side, BoxRef] = {}
        patterns: list[str] = []
        extra: dict[str, str] = {}
        broken: set[Side] = set()
        for cmd in body:
            low = cmd.low
            if low in ("far", "near", "master", "slave"):
                side: Side = "far" if low in ("far", "master") else "near"
                if low in ("master", "slave"):
                    self.notice(cmd.line, NOTICE_MASTER_SLAVE)
                ref = self.box_ref(cmd)
                if ref is None:
                    broken.add(side)
                else:
                    ends[side] = ref
            elif low in ("pattern", "patterns"):
                patterns.extend(cmd.args)
            elif low == "maxsize":
                values["max_size"] = self.convert(cmd, parse_size, None)
            elif self.channel_common(cmd, values, ops, channel=name):
                pass
            elif (canonical := self.extras.lookup("Channel", low)) is not None:
                extra[canonical] = " ".join(cmd.args)
            else:
                self.unknown(cmd, "Channel")
        missing = False
        for end in ("far", "near"):
            if end not in ends and end not in broken:
                self.error(where.line, f"channel '{name}' refers to no {end} side store")
                missing = True
        merged = self.merge_ops(ops, f"in Channel '{name}'", where.line)
        problem = both_expunge_problem(merged, name)
        if problem:
            self.error(where.line, problem)
        if missing or broken:
            return None
        return ChannelConfig(
            name=name,
            defined_at=where,
            far=ends["far"],
            near=ends["near"],
            patterns=tuple(patterns),
            ops=merged,
            extra=extra,
            **values,
        )

    def box_ref(self, cmd: _Cmd) -> BoxRef | None:
        value = self.one(cmd)
        store, sep, box = value[1:].partition(":")
        if not value.startswith(":") or not sep:
            self.error(cmd.line, "malformed mailbox spec")
            return None
        if store not in self.stores:
            self.error(cmd.line, f"unknown store '{store}'")
            return None
        return BoxRef(store=store, box=box)

    def group(self, header: _Cmd, where: Location, body: list[_Cmd]) -> GroupConfig:
        members = [split_channel_arg(arg) for arg in header.args[1:]]
        for cmd in body:
            if cmd.low in ("channel", "channels"):
                members.extend(split_channel_arg(arg) for arg in cmd.args)
            else:
                self.unknown(cmd, "Group")
        return GroupConfig(
            name=header.value,
            defined_at=where,
            members=tuple(GroupMember(chan, boxes) for chan, boxes in members),
        )

    def plugin_section(self, kind: str, name: str, where: Location, body: list[_Cmd]) -> None:
        values: dict[str, str] = {}
        lines: dict[str, int] = {}
        for cmd in body:
            canonical = self.extras.lookup(kind, cmd.low)
            if canonical is None:
                self.unknown(cmd, kind)
            else:
                values[canonical] = " ".join(cmd.args)
                lines[canonical] = cmd.line
        table = self.plugin_sections.setdefault(kind, {})
        section = PluginSection(
            keyword=kind, name=name, defined_at=where, values=values, lines=lines
        )
        self.register(table, kind, name, section, where)


_ACCOUNT_KEYWORDS = frozenset({
    "host", "port", "timeout", "user", "usercmd", "pass", "passcmd", "usekeychain", "tunnel",
    "authmech", "authmechs", "requirecram", "tlstype", "ssltype", "tlsversions", "sslversions",
    "sslversion", "systemcertificates", "certificatefile", "clientcertificate", "clientkey",
    "cipherstring", "pipelinedepth", "disableextension", "disableextensions", *_LEGACY_SSL,
    "messagesizelimit",
})  # fmt: skip


def tls_versions_problem(enabled: Iterable[str]) -> str | None:
    """Why the enabled TLS versions cannot be used, or None.

    Python's ``ssl`` takes a lowest and a highest version, so a set with a hole
    (``+1.1 -1.2 +1.3``) cannot be honoured; refusing beats silently widening it.
    """
    wanted = set(enabled)
    on = [i for i, v in enumerate(_TLS_VERSIONS) if v in wanted]
    if not on:
        return "no TLS version is left enabled"
    holes = [v for i, v in enumerate(_TLS_VERSIONS) if on[0] < i < on[-1] and i not in on]
    if holes:
        return (
            f"TLSVersions: syncmail needs a contiguous range of versions, but "
            f"{' and '.join(holes)} {'is' if len(holes) == 1 else 'are'} disabled between "
            f"{_TLS_VERSIONS[on[0]]} and {_TLS_VERSIONS[on[-1]]}"
        )
    return None


def _delimiter_problem(value: str, what: str) -> str | None:
    if len(value) != 1:
        return f"{what} delimiter must be exactly one character long"
    if not (value.isascii() and not value.isalnum() and value.isprintable() and value != " "):
        return f"{what} delimiter must be a punctuation character"
    return None


__all__ = [
    "default_config_path", "load_config", "looks_like_text", "parse_config",
    "tls_versions_problem",
]  # fmt: skip
