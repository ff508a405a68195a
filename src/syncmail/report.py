"""What the user sees of a run: the progress line, the end-of-run summary, logging setup.

The texts follow mbsync 1.5 (``src/main_sync.c``) because scripts and mail clients parse them.
"""

from __future__ import annotations

import base64
import binascii
import functools
import logging
import os
import re
import time
from collections.abc import Callable, Iterable, Sequence
from typing import TextIO

from syncmail.errors import MessageError, StoreError, SyncmailError
from syncmail.events import Progress, RunSummary, SideProgress
from syncmail.progressbar import RateMeter, bar_text, copying
from syncmail.record import record

# mbsync's verbosity levels; -q steps down from TERSE, -V jumps to VERBOSE.
VERYQUIET = -2
QUIET = -1
TERSE = 0
VERBOSE = 1

LOGGER_NAME = "syncmail"


@record(frozen=True)
class SummaryShape:
    """Which lines the summary has: mbsync prints a line only for operations configured.

    ``pull``/``push``: some Sync type runs in that direction on some channel;
    ``expunge_*``: Expunge or ExpungeSolo on that side; ``trash_*``: that side expunges and
    a Trash is configured for it (its own, or the other side's with TrashRemoteNew).
    """

    pull: bool = True
    push: bool = True
    expunge_far: bool = False
    expunge_near: bool = False
    trash_far: bool = False
    trash_near: bool = False


def summary_text(summary: RunSummary, shape: SummaryShape) -> str | None:
    """mbsync 1.5's end-of-run summary, or None when no box was processed (as mbsync)."""
    if not summary.boxes:
        return None
    boxes = summary.boxes
    dry = summary.dry_run
    parts = [f"Processed {len(boxes)} box(es) in {summary.channels} channel(s)"]
    # mbsync goes near side first (pull), then far side (push).
    sides = (
        ("pull", "near side", shape.pull, shape.trash_near, shape.expunge_near,
         sum(b.pulled_new for b in boxes), sum(b.pulled_flags for b in boxes),
         sum(b.trashed_near for b in boxes), sum(b.expunged_near for b in boxes)),
        ("push", "far side", shape.push, shape.trash_far, shape.expunge_far,
         sum(b.pushed_new for b in boxes), sum(b.pushed_flags for b in boxes),
         sum(b.trashed_far for b in boxes), sum(b.expunged_far for b in boxes)),
    )
    for verb, side, ops_any, trash_any, expunge_any, new, flags, trashed, expunged in sides:
        if ops_any:
            if dry:
                parts.append(f"would {verb} {new} new message(s) and {flags} flag update(s)")
            else:
                parts.append(f"{verb}ed {new} new message(s) and {flags} flag update(s)")
        if trash_any:
            if dry:
                parts.append(f"would move {trashed} {side} message(s) to trash")
            else:
                parts.append(f"moved {trashed} {side} message(s) to trash")
        if expunge_any:
            if dry:
                parts.append(f"would expunge {expunged} message(s) from {side}")
            else:
                parts.append(f"expunged {expunged} message(s) from {side}")
    text = ",\n".join(parts) + "."
    # A line of its own, and only when there were moves: mbsync's lines stay as they are
    # for the scripts that read them (the moved messages are among their new ones).
    moved = sum(b.moved for b in boxes)
    if moved:
        text += f"\nmoved {moved} message(s) between boxes without transferring them again."
    return text


def retry_text(summary: RunSummary) -> str | None:
    """``Notice: ...`` lines naming the channels connected again and the box pairs synced
    again after a lost connection, or None when nothing was retried."""
    lines = []
    if summary.reconnects:
        names = ", ".join(f"{channel} ({n}x)" for channel, n in summary.reconnects)
        lines.append(f"Notice: connection lost and made again for channel(s): {names}")
    retried = [b for b in summary.boxes if b.retries]
    if retried:
        names = ", ".join(f"{b.channel}:{b.box} ({b.retries}x)" for b in retried)
        lines.append(f"Notice: connection lost and box synced again: {names}")
    return "\n".join(lines) or None


def failure_text(summary: RunSummary, errors: Sequence[SyncmailError]) -> str | None:
    """The run's last line when anything failed (``syncmail: 2 of 8 boxes failed; ...``),
    or None when nothing did."""
    if not errors:
        return None
    failed = sum(1 for b in summary.boxes if b.error is not None)
    stores = sorted({e.store for e in errors if isinstance(e, StoreError)})
    messages = sum(1 for e in errors if isinstance(e, MessageError))
    parts = []
    if failed:
        parts.append(f"{failed} of {len(summary.boxes)} box(es) failed")
    if stores:
        parts.append("store(s) " + ", ".join(stores) + " failed")
    if messages:
        parts.append(f"{messages} message(s) not synced")
    if not parts:
        parts.append(f"{len(errors)} error(s)")
    verdict = "dry run failed" if summary.dry_run else "run failed"
    return f"syncmail: {verdict}: {'; '.join(parts)}; see the errors above"


def summary_json(summary: RunSummary, errors: Sequence[SyncmailError]) -> str:
    """The run's summary as JSON (``--summary-json``), for status bars and scripts:
    per box pair its counts, error and seconds; the run's errors and verdict."""
    import json

    boxes = [
        {
            "channel": b.channel, "box": b.box,
            "pulled_new": b.pulled_new, "pushed_new": b.pushed_new,
            "pulled_flags": b.pulled_flags, "pushed_flags": b.pushed_flags,
            "expunged_far": b.expunged_far, "expunged_near": b.expunged_near,
            "trashed_far": b.trashed_far, "trashed_near": b.trashed_near,
            "moved": b.moved,
            "retries": b.retries, "error": b.error, "seconds": round(b.seconds, 3),
        }
        for b in summary.boxes
    ]  # fmt: skip
    return json.dumps(
        {
            "version": 1,
            "ok": not errors,
            "dry_run": summary.dry_run,
            "channels": summary.channels,
            "boxes": boxes,
            "errors": [str(e) for e in errors],
            "seconds": round(sum(b.seconds for b in summary.boxes), 3),
        },
        indent=1,
    )


def _side_text(side: SideProgress) -> str:
    return (
        f"+{side.new_done}/{side.new_total} *{side.flags_done}/{side.flags_total} "
        f"#{side.trashed_done}/{side.trashed_total} -{side.expunged_done}/{side.expunged_total}"
    )


def progress_text(progress: Progress, columns: int = 80) -> str:
    """One progress line (without the leading ``\\r``), fitted to ``columns`` like mbsync."""
    head = (
        f"C: {progress.channels_done}/{progress.channels_total}  "
        f"B: {progress.boxes_done}/{progress.boxes_total}"
    )
    room = max((columns - len(head) - 10) // 2, 2)
    fitted = []
    for side in (progress.far, progress.near):
        text = _side_text(side)
        if len(text) > room:
            # mbsync marks a cut-off side with "~" as its last visible character.
            text = text[: room - 1] + "~"
        fitted.append(text)
    return f"{head}  F: {fitted[0]}  N: {fitted[1]}"


def terminal_columns(stream: TextIO | None = None) -> int:
    """$COLUMNS (as mbsync), else the width of the terminal ``stream`` is, else 80."""
    try:
        columns = int(os.environ.get("COLUMNS", ""))
    except ValueError:
        columns = 0
    if not columns and stream is not None:
        try:
            columns = os.get_terminal_size(stream.fileno()).columns
        except (OSError, ValueError, AttributeError):
            columns = 0  # not a file (a test's StringIO) or not a terminal
    return columns or 80


class ProgressLine:
    """The ``\\r``-rewritten progress line on a terminal; log output clears it first.

    mbsync's counts line, or while a box has messages to copy the bar of
    ``syncmail.progressbar`` (the box, messages and bytes, rate, ETA).  Redraws are limited
    to one per ``interval`` seconds (``clock`` is injectable so the behaviour is testable
    without timing), except the final one.
    """

    def __init__(
        self,
        stream: TextIO,
        *,
        columns: int | None = None,
        interval: float = 0.3,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._stream = stream
        self._columns = columns
        self._interval = interval
        self._clock = clock
        self._last_draw: float | None = None
        self._shown = 0
        self._latest: Progress | None = None
        self._rates = RateMeter()

    def __call__(self, progress: Progress) -> None:
        self._latest = progress
        now = self._clock()
        if self._last_draw is not None and now - self._last_draw < self._interval:
            return
        self._last_draw = now
        self._draw(progress, now)

    def _draw(self, progress: Progress, now: float) -> None:
        columns = self._columns or terminal_columns(self._stream)
        if copying(progress):
            text = bar_text(progress, self._rates.sample(now, progress), columns)
        else:
            text = progress_text(progress, columns)
        pad = max(self._shown - len(text), 0)
        self._stream.write("\r" + text + " " * pad)
        self._stream.flush()
        self._shown = len(text)

    def clear(self) -> None:
        """Erase the line (before a log message or the summary)."""
        if self._shown:
            self._stream.write("\r" + " " * self._shown + "\r")
            self._stream.flush()
            self._shown = 0

    def finish(self) -> None:
        """Show the final counts once more, then erase the line, as mbsync does."""
        self.clear()


# --- logging ---------------------------------------------------------------------------

_MASK = "<hidden>"
# An IMAP command tag (imaplib's "JEPD3", or "a1"): a command only counts as one with it, so
# that a sentence naming mechanisms ("server offers LOGIN OAUTHBEARER ...") stays intact.
_TAG = r"(?:^|(?<=['\"])|(?<=> )|(?<=C: ))[A-Za-z]{0,8}\d+\s+"
_QUOTED_OR_ATOM = r"(?:\"(?:[^\"\\]|\\.)*\"|\S+)"


@functools.cache
def _secret_patterns() -> tuple[re.Pattern[str], ...]:
    """Protocol and HTTP text that carries a secret even when nobody registered it.

    Compiled at the first log line, not at import: a quiet run that logs nothing never
    needs them, and they are the costliest regexes syncmail has.
    """
    return (
        re.compile(rf"({_TAG}LOGIN\s+{_QUOTED_OR_ATOM}\s+)({_QUOTED_OR_ATOM})", re.M),
        re.compile(rf"({_TAG}AUTHENTICATE\s+[A-Za-z0-9_-]+\s+)([A-Za-z0-9+/=]+)", re.M),
        re.compile(r"((?:password|passwd|pass)\s*[=:]\s*)(\S+)", re.I),
        re.compile(r"(\bBearer\s+)([A-Za-z0-9\-._~+/]+=*)", re.I),
        # OAuth2 token endpoint parameters and JSON fields (RFC 6749), quoted or form-encoded.
        re.compile(
            r"(\b(?:access_token|refresh_token|id_token|client_secret|code_verifier|device_code)"
            r"[\"']?\s*[=:]\s*[\"']?)([^\s\"'&,}]+)",
            re.I,
        ),
        re.compile(r"([?&]code=)([^\s&]+)"),
    )


@functools.cache
def _base64_run() -> re.Pattern[str]:
    # A base64 SASL response that decodes to an XOAUTH2/OAUTHBEARER message (a continuation
    # line has no command to recognise it by).
    return re.compile(r"[A-Za-z0-9+/]{24,}={0,2}")


def _sasl_bearer(match: re.Match[str]) -> str:
    text = match.group(0)
    try:
        decoded = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        return text
    return _MASK if b"auth=Bearer" in decoded or b"auth=bearer" in decoded else text


class SecretMask(logging.Filter):
    """Replaces registered secrets, and credential-bearing protocol arguments, in log records.

    Registered values are masked wherever they appear; the patterns only in the context
    that makes them secret (a tagged LOGIN, ``Bearer``, ``refresh_token=``), so that
    ordinary words are left alone.
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._secrets: list[str] = []
        self.add(secrets)

    def add(self, secrets: Iterable[str]) -> None:
        for secret in secrets:
            if secret and secret not in self._secrets:
                self._secrets.append(secret)
        # Longest first so that a secret containing another is masked whole.
        self._secrets.sort(key=len, reverse=True)

    def mask(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, _MASK)
        for pattern in _secret_patterns():
            text = pattern.sub(lambda m: m.group(1) + _MASK, text)
        return _base64_run().sub(_sasl_bearer, text)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken log call must not break the run
            message = str(record.msg)
        masked = self.mask(message)
        if masked != message or record.args:
            record.msg = masked
            record.args = None
        return True


# Messages that already say what they are, or where they come from (``file:line: ...``),
# get no "Warning: " in front.
_TAGGED = re.compile(r"^(?:(?:Warning|Notice|Error|Fatal):|\S+:\d+: )")


class ConsoleFormatter(logging.Formatter):
    """mbsync-like lines: ``Warning: ...``, ``Error: ...``, plain info, tagged debug."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if record.levelno >= logging.ERROR:
            text = message if _TAGGED.match(message) else f"Error: {message}"
        elif record.levelno >= logging.WARNING:
            text = message if _TAGGED.match(message) else f"Warning: {message}"
        elif record.levelno >= logging.INFO:
            text = message
        else:
            text = f"[{record.name}] {message}"
        if record.exc_info and record.levelno < logging.INFO:
            text += "\n" + self.formatException(record.exc_info)
        return text


class ConsoleHandler(logging.StreamHandler[TextIO]):
    """Writes to a stream, erasing the progress line first so the two never mix."""

    def __init__(self, stream: TextIO, progress: ProgressLine | None = None) -> None:
        super().__init__(stream)
        self.progress = progress

    def emit(self, record: logging.LogRecord) -> None:
        if self.progress is not None:
            self.progress.clear()
        super().emit(record)

    def format(self, record: logging.LogRecord) -> str:
        """The line as the formatter makes it; with a traceback (``-D``) masked whole, as
        the filter masked only the message and the traceback may quote a secret too."""
        text = super().format(record)
        if record.exc_info or record.exc_text or record.stack_info:
            for mask in _masks([self]):
                text = mask.mask(text)
        return text


def log_level(verbosity: int, debug: bool) -> int:
    """WARNING by default, INFO with -V, DEBUG with -D, ERROR with -qq."""
    if debug:
        return logging.DEBUG
    if verbosity >= VERBOSE:
        return logging.INFO
    if verbosity <= VERYQUIET:
        return logging.ERROR
    return logging.WARNING


def setup_logging(
    stream: TextIO,
    *,
    verbosity: int = TERSE,
    debug: bool = False,
    secrets: Sequence[str] = (),
) -> tuple[ConsoleHandler, SecretMask]:
    """Send syncmail's (and plugins') log records to ``stream`` at the level asked for.

    The handler sits on the root logger so that plugin loggers (any name) are shown.
    Returns the handler (to attach the progress
    line) and the mask (to register secrets found later, e.g. in the config).
    """
    level = log_level(verbosity, debug)
    handler = ConsoleHandler(stream)
    handler.setFormatter(ConsoleFormatter())
    mask = SecretMask(secrets)
    handler.addFilter(mask)
    root = logging.getLogger()
    for old in list(root.handlers):
        if isinstance(old, ConsoleHandler):
            root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger(LOGGER_NAME).setLevel(level)
    handler.setLevel(level)
    return handler, mask


def hide_secret(secret: str) -> None:
    """Mask ``secret`` (a password or token obtained during the run) in every log line from
    now on: it is registered with the mask of each handler ``setup_logging`` installed."""
    if not secret:
        return
    for mask in _masks(logging.getLogger().handlers):
        mask.add([secret])


def mask_text(text: str) -> str:
    """``text`` masked as a log line would be, for output that does not go through
    logging (the plugin trace): by every installed handler's mask, or by the patterns
    alone when there is none."""
    for mask in _masks(logging.getLogger().handlers) or [SecretMask()]:
        text = mask.mask(text)
    return text


def _masks(handlers: Iterable[logging.Handler]) -> list[SecretMask]:
    """The secret masks among the filters of ``handlers``."""
    return [flt for h in handlers for flt in h.filters if isinstance(flt, SecretMask)]


def remove_console_handlers() -> None:
    """Undo ``setup_logging``: its handlers leave the root logger, which goes back to WARNING."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler, ConsoleHandler):
            root.removeHandler(handler)
            root.setLevel(logging.WARNING)
    logging.getLogger(LOGGER_NAME).setLevel(logging.NOTSET)
