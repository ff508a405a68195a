"""The progress bar of a box pair's copies, for people at a terminal.

``INBOX  [=====>      ] 12,345/100,000 msgs  310/2,400 MiB  4,120 msg/s  ETA 0:21``

mbsync's counts line (``report.progress_text``) stays for everything else; the bar is
drawn while a box has messages to copy, the long part of a run.  Hand-written: measured
with ``python -X importtime``, tqdm costs ~21 ms and rich.progress ~27 ms on every run,
this module ~2 ms, for one line of text.
"""

from __future__ import annotations

from collections import deque

from syncmail.events import CopyProgress, Progress
from syncmail.record import record

# The rate is measured over the last few seconds, so that it follows a change of pace
# (large messages after small ones) without jumping at every redraw.
RATE_WINDOW = 5.0
# Narrower than this, the bar says nothing and is left out.
_MIN_BAR = 10


@record(frozen=True)
class Rates:
    """Messages and bytes per second (None until there is time enough to tell)."""

    messages: float | None = None
    bytes: float | None = None


class RateMeter:
    """Rates from (time, messages, bytes) samples taken at each redraw; a new box (or
    counts going back, as after a retry) starts afresh."""

    def __init__(self, window: float = RATE_WINDOW) -> None:
        self._window = window
        self._key: tuple[str, str] | None = None
        self._samples: deque[tuple[float, int, int]] = deque()

    def sample(self, now: float, progress: Progress) -> Rates:
        key = (progress.channel, progress.box)
        c = progress.copies
        if key != self._key or (self._samples and c.done < self._samples[-1][1]):
            self._key = key
            self._samples.clear()
        self._samples.append((now, c.done, c.bytes_done))
        while len(self._samples) > 2 and now - self._samples[1][0] >= self._window:
            self._samples.popleft()
        then, done, nbytes = self._samples[0]
        span = now - then
        if span <= 0:
            return Rates()
        return Rates((c.done - done) / span, (c.bytes_done - nbytes) / span)


def copying(progress: Progress) -> bool:
    """Whether the bar is due: the box pair has copies made and to make."""
    c = progress.copies
    return 0 < c.total and c.done < c.total


def _size(done: int, total: int | None) -> str:
    """``310/2,400 MiB`` (or ``310 MiB`` with no total), in the unit of the larger."""
    top = max(done, total or 0)
    if top >= 10 << 30:
        unit, scale, fmt = "GiB", 1 << 30, "{:,.1f}"
    elif top >= 1 << 20:
        unit, scale, fmt = "MiB", 1 << 20, "{:,.0f}"
    elif top >= 1 << 10:
        unit, scale, fmt = "KiB", 1 << 10, "{:,.0f}"
    else:
        unit, scale, fmt = "B", 1, "{:,.0f}"
    text = fmt.format(done / scale)
    if total is not None:
        text += "/" + fmt.format(total / scale)
    return f"{text} {unit}"


def _duration(seconds: float) -> str:
    """``0:21``, ``12:05``, ``1:02:03``."""
    whole = int(seconds + 0.5)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02}:{secs:02}" if hours else f"{minutes}:{secs:02}"


def eta(copies: CopyProgress, rates: Rates) -> float | None:
    """Seconds left: by bytes when their total is known (sizes vary), else by messages."""
    if copies.bytes_total is not None and rates.bytes:
        return max(copies.bytes_total - copies.bytes_done, 0) / rates.bytes
    if rates.messages:
        return (copies.total - copies.done) / rates.messages
    return None


def _bar(fraction: float, width: int) -> str:
    inner = width - 2
    filled = min(int(fraction * inner), inner)
    head = ">" if filled < inner else ""
    return "[" + "=" * filled + head + " " * (inner - filled - len(head)) + "]"


def bar_text(progress: Progress, rates: Rates, columns: int = 80) -> str:
    """The bar line, at most ``columns - 1`` wide (the last column would wrap on some
    terminals); a narrow terminal loses the rate, the bytes, the ETA, then the bar."""
    c = progress.copies
    width = columns - 1
    name = progress.box
    if progress.channels_total > 1:
        name = f"{progress.channel}:{progress.box}"
    count = f"{c.done:,}/{c.total:,} msgs"
    eta_s = eta(c, rates)
    optional = {
        "rate": "-- msg/s" if rates.messages is None else f"{rates.messages:,.0f} msg/s",
        "bytes": _size(c.bytes_done, c.bytes_total),
        "eta": "ETA --:--" if eta_s is None else f"ETA {_duration(eta_s)}",
    }
    shown = ["bytes", "rate", "eta"]

    def tail() -> str:
        return "  ".join([count] + [optional[k] for k in shown])

    fraction = c.done / c.total if c.total else 0.0
    if c.bytes_total:
        fraction = min(c.bytes_done / c.bytes_total, 1.0)
    # Name, bar and counts need: name + 2 + bar + 1 + tail; short of room, the rate goes
    # first, then the bytes, then the ETA.
    for drop in ("rate", "bytes", "eta"):
        if len(name) + 3 + _MIN_BAR + len(tail()) <= width:
            break
        shown.remove(drop)
    room = width - len(name) - 3 - len(tail())
    if room >= _MIN_BAR:
        text = f"{name}  {_bar(fraction, min(room, 40))} {tail()}"
    else:
        # No bar: the name is cut (mbsync's "~") so that the counts stay.
        keep = max(width - len(count) - 2, 0)
        if len(name) > keep:
            name = name[: max(keep - 1, 0)] + "~" if keep else ""
        text = f"{name}  {count}" if name else count
    return text[:width]
