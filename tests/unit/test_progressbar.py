"""The progress bar's text: counts, bytes, rate and ETA with an injected clock, narrow
terminals, unknown sizes; and when the progress line draws it instead of mbsync's."""

from __future__ import annotations

import io

import pytest

from syncmail.events import CopyProgress, Progress
from syncmail.progressbar import RateMeter, Rates, bar_text, eta
from syncmail.report import ProgressLine

MiB = 1 << 20


def copying(done: int, total: int, nbytes: int = 0, bytes_total: int | None = None,
            box: str = "INBOX") -> Progress:
    return Progress(
        channels_total=1, channel="mail", box=box,
        copies=CopyProgress(done, total, nbytes, bytes_total),
    )


def test_the_whole_bar() -> None:
    text = bar_text(copying(12345, 100000, 310 * MiB, 2400 * MiB), Rates(4120, 20 * MiB), 100)
    assert text == (
        "INBOX  [====>                           ] 12,345/100,000 msgs  310/2,400 MiB  "
        "4,120 msg/s  ETA 1:45"
    )
    assert len(text) == 99  # the last column is left alone (it wraps on some terminals)


def test_unknown_sizes_show_the_bytes_done_and_an_eta_by_messages() -> None:
    text = bar_text(copying(500, 1000, 3 * MiB), Rates(100, MiB), 80)
    assert "500/1,000 msgs  3 MiB  100 msg/s  ETA 0:05" in text
    # Half the messages: half the bar.
    bar = text.split("[")[1].split("]")[0]
    assert bar.index(">") == len(bar) // 2


def test_no_rate_yet() -> None:
    text = bar_text(copying(0, 10), Rates(), 80)
    assert text.endswith("0/10 msgs  0 B  -- msg/s  ETA --:--")


@pytest.mark.parametrize(
    ("columns", "expected"),
    [
        (60, "INBOX  [==>                 ] 12,345/100,000 msgs  ETA 3:29"),
        (40, "INBOX  [=>        ] 12,345/100,000 msgs"),
        (27, "INBOX  12,345/100,000 msgs"),
        (25, "IN~  12,345/100,000 msgs"),
        (22, "12,345/100,000 msgs"),
        (12, "12,345/100,"),
    ],
)
def test_narrow_terminals_lose_rate_bytes_eta_then_the_bar(columns: int, expected: str) -> None:
    progress = copying(12345, 100000, 310 * MiB, 2400 * MiB)
    text = bar_text(progress, Rates(4120, 10 * MiB), columns)
    assert text == expected
    assert len(text) < columns


def test_channel_named_when_the_run_has_several() -> None:
    progress = copying(1, 2, box="Lists/python")
    progress.channels_total = 2
    assert bar_text(progress, Rates(), 80).startswith("mail:Lists/python  [")


def test_sizes_in_gib_and_hours() -> None:
    text = bar_text(copying(1, 9, 11 << 30, 30 << 30), Rates(1, MiB), 120)
    assert "11.0/30.0 GiB" in text and "ETA 5:24:16" in text


def test_eta_by_bytes_when_their_total_is_known() -> None:
    # Few messages left but most of the bytes: the bytes tell.
    c = CopyProgress(done=90, total=100, bytes_done=10 * MiB, bytes_total=100 * MiB)
    assert eta(c, Rates(messages=90, bytes=MiB)) == pytest.approx(90)
    assert eta(CopyProgress(90, 100), Rates(messages=10)) == pytest.approx(1)
    assert eta(CopyProgress(90, 100), Rates()) is None


def test_rate_over_a_window_and_afresh_for_a_new_box() -> None:
    meter = RateMeter(window=5.0)
    assert meter.sample(0.0, copying(0, 1000)) == Rates()
    assert meter.sample(1.0, copying(100, 1000, 1000)) == Rates(100, 1000)
    for second in range(2, 20):
        meter.sample(float(second), copying(100 * second, 10000))
    # Slower now: the rate follows within the window.
    rates = meter.sample(25.0, copying(1900 + 50 * 6, 10000))
    assert rates.messages == pytest.approx(50, rel=0.3)
    assert meter.sample(26.0, copying(5, 10, box="Sent")) == Rates()


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_progress_line_draws_the_bar_while_copying_then_the_counts() -> None:
    out = io.StringIO()
    clock = FakeClock()
    line = ProgressLine(out, columns=100, interval=0.3, clock=clock)
    line(copying(0, 0))
    assert out.getvalue().startswith("\rC: 0/1  B: 0/0")
    for step in range(1, 5):
        clock.now = float(step)
        line(copying(1000 * step, 10000, MiB * step))
    last = out.getvalue().rsplit("\r", 1)[1]
    assert last.startswith("INBOX  [") and "4,000/10,000 msgs  4 MiB  1,000 msg/s  ETA 0:06" in last
    clock.now = 10.0
    line(copying(10000, 10000))  # all copied: mbsync's line again
    assert out.getvalue().rsplit("\r", 1)[1].startswith("C: 0/1  B: 0/0")
