#!/usr/bin/env python3
"""Deterministic sample mail for the demo: a few folders, ~200 realistic messages, some flags.

As a program it writes the mail into a Maildir tree (one directory per folder, Verbatim);
the demo imports ``generate`` and APPENDs the same messages to a Dovecot user instead.
"""

from __future__ import annotations

import argparse
import email.policy
import os
import random
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

FOLDERS: tuple[tuple[str, int], ...] = (
    ("INBOX", 80),
    ("Sent", 30),
    ("Archive", 40),
    ("Lists/python", 30),
    ("Lists/notmuch", 20),
)

ME = Address("Demo User", "demo", "example.org")
PEOPLE = (
    Address("Ada Lovelace", "ada", "analytical.example"),
    Address("Grace Hopper", "grace", "navy.example"),
    Address("Linus Torvalds", "linus", "kernel.example"),
    Address("Margaret Hamilton", "margaret", "apollo.example"),
    Address("Ken Thompson", "ken", "bell-labs.example"),
    Address("Barbara Liskov", "barbara", "mit.example"),
    Address("José Müller", "jose", "beispiel.example"),
    Address("Zoë Ødegaard", "zoe", "eksempel.example"),
)
TOPICS = (
    "meeting notes", "quarterly report", "lunch on Friday?", "review of the draft",
    "server maintenance window", "invoice {n}", "travel plans", "re-org announcement",
    "bug in the parser", "release 1.{n} is out", "question about IMAP IDLE",
    "Maildir flags and notmuch tags", "weekend hike", "photos from the trip",
    "Grüße aus Berlin", "café order", "your password reset request (not really)",
)
LISTS = {
    "Lists/python": ("python-dev", "python.example", "[Python-Dev]"),
    "Lists/notmuch": ("notmuch", "notmuchmail.example", "[notmuch]"),
}
WORDS = (
    "the quick brown fox jumps over the lazy dog while the mail server keeps every "
    "message in step and nobody loses a single flag or byte along the way"
).split()
BASE_TIME = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)


@dataclass(frozen=True)
class SampleMessage:
    """One message: the folder it lives in, its IMAP flags and its bytes (LF line ends)."""

    folder: str
    flags: tuple[str, ...]
    data: bytes
    date: datetime

    def crlf(self) -> bytes:
        """The message with CRLF line ends, as IMAP wants it."""
        return self.data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def _body(rng: random.Random, paragraphs: int) -> str:
    out = []
    for _ in range(paragraphs):
        words = [rng.choice(WORDS) for _ in range(rng.randint(20, 60))]
        text = " ".join(words).capitalize() + "."
        # Wrap at ~72 columns like a mail client would.
        line, lines = "", []
        for word in text.split():
            if len(line) + len(word) + 1 > 72:
                lines.append(line)
                line = word
            else:
                line = f"{line} {word}".strip()
        lines.append(line)
        out.append("\n".join(lines))
    return "\n\n".join(out) + "\n"


def _flags(rng: random.Random, folder: str) -> tuple[str, ...]:
    flags = []
    if folder == "Sent" or rng.random() < 0.7:
        flags.append("\\Seen")
    if rng.random() < 0.1:
        flags.append("\\Answered")
    if rng.random() < 0.06:
        flags.append("\\Flagged")
    return tuple(flags)


def generate(seed: int = 1, scale: float = 1.0) -> list[SampleMessage]:
    """The sample messages; the same ``seed`` always gives the same bytes."""
    rng = random.Random(seed)
    messages: list[SampleMessage] = []
    thread_roots: list[tuple[str, str]] = []  # (message-id, subject)
    counter = 0
    for folder, count in FOLDERS:
        for _ in range(max(1, round(count * scale))):
            counter += 1
            date = BASE_TIME + timedelta(minutes=counter * 97 + rng.randint(0, 90))
            msg = EmailMessage()
            person = rng.choice(PEOPLE)
            sender, recipient = (ME, person) if folder == "Sent" else (person, ME)
            subject = rng.choice(TOPICS).format(n=rng.randint(1, 99))
            message_id = f"<{counter:04d}.{seed}.{rng.getrandbits(32):08x}@sample.example>"
            if folder in LISTS:
                name, domain, tag = LISTS[folder]
                recipient = Address(name, name, domain)
                msg["List-Id"] = f"<{name}.{domain}>"
                msg["List-Post"] = f"<mailto:{name}@{domain}>"
                subject = f"{tag} {subject}"
            msg["From"], msg["To"] = sender, recipient
            if rng.random() < 0.2:
                msg["Cc"] = rng.choice(PEOPLE)
            if thread_roots and rng.random() < 0.3:
                parent_id, parent_subject = rng.choice(thread_roots)
                msg["In-Reply-To"] = parent_id
                msg["References"] = parent_id
                subject = parent_subject if parent_subject.startswith("Re: ") else (
                    f"Re: {parent_subject}"
                )
            else:
                thread_roots.append((message_id, subject))
            msg["Subject"] = subject
            msg["Date"] = format_datetime(date)
            msg["Message-ID"] = message_id
            msg["User-Agent"] = "syncmail-sample/1.0"
            msg.set_content(_body(rng, rng.randint(1, 4)))
            if rng.random() < 0.05:
                blob = rng.randbytes(rng.randint(2_000, 20_000))
                msg.add_attachment(
                    blob, maintype="application", subtype="octet-stream",
                    filename=f"data-{counter}.bin",
                )
                # email picks a random boundary otherwise: keep the bytes reproducible.
                msg.set_boundary(f"=_sample_{seed}_{counter:04d}")
            data = msg.as_bytes(policy=email.policy.default)
            messages.append(SampleMessage(folder, _flags(rng, folder), data, date))
    return messages


_MAILDIR_FLAGS = {"\\Draft": "D", "\\Flagged": "F", "\\Answered": "R", "\\Seen": "S"}


def write_maildir(root: Path, messages: list[SampleMessage]) -> None:
    """Write ``messages`` into ``root/<folder>/{cur,new,tmp}`` (one directory per folder)."""
    for index, message in enumerate(messages, 1):
        box = root / message.folder
        for sub in ("cur", "new", "tmp"):
            (box / sub).mkdir(parents=True, exist_ok=True)
        letters = "".join(sorted(_MAILDIR_FLAGS[f] for f in message.flags))
        name = f"{int(message.date.timestamp())}.sample{index}.demo:2,{letters}"
        path = box / ("cur" if letters else "new") / name
        path.write_bytes(message.data)
        stamp = message.date.timestamp()
        os.utime(path, (stamp, stamp))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--scale", type=float, default=1.0, help="multiply folder sizes")
    parser.add_argument("--out", type=Path, help="write a Maildir tree here")
    args = parser.parse_args(argv)
    messages = generate(args.seed, args.scale)
    if args.out is not None:
        write_maildir(args.out, messages)
    counts: dict[str, int] = {}
    for message in messages:
        counts[message.folder] = counts.get(message.folder, 0) + 1
    for folder, count in counts.items():
        print(f"{folder:16} {count:4}")
    print(f"{'total':16} {len(messages):4}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
