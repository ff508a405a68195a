"""notmuch tags <-> IMAP keywords: which tags are pushed, which keywords pulled; pure.

A tag goes to the server as the keyword ``syncmail.keywords.encode_tag`` makes of it,
except the tags never pushed (the flag tags, computed tags and notmuch's ``new.tags``).
A keyword comes back as the tag ``decode_keyword`` gives, except the keywords of the
incoming table: mapped to a tag of their own (``$Junk`` -> ``spam``) or ignored (``""``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import field

from syncmail.keywords import decode_keyword, encode_tag, fold
from syncmail.record import record

# Flag tags (maildir.synchronize_flags: the system flags carry them), computed ones and
# the transient ``new``: pushing them would duplicate a flag or mean nothing elsewhere.
NEVER_PUSHED = frozenset(
    "inbox unread new replied flagged draft passed deleted attachment signed encrypted".split()
)

# Keywords other clients and servers set, folded -> tag ("" = not a tag, left alone).
# A mapped keyword works both ways: the tag is then always sent as that keyword (and a
# keyword spelled like the tag is left alone), so only ``$Junk`` is mapped by default;
# Thunderbird's ``$label1``..``$label5`` pass as tags of that name unless ``MapKeywords``
# says otherwise (``$label4=todo``, say).
INCOMING: Mapping[str, str] = {
    "$junk": "spam",
    **dict.fromkeys(
        [
            "$notjunk", "junk", "nonjunk", "notjunk", "junkrecorded", "$phishing",
            "$mdnsent", "$submitpending", "$submitted", "$hasattachment",
            "$hasnoattachment", "$mailflagbit0", "$mailflagbit1", "$mailflagbit2",
            "$important", "$autojunk", "$autonotjunk", "$isforwarded", "$istrusted",
        ],
        "",
    ),
}  # fmt: skip


@record(frozen=True)
class TagMap:
    """The mapping in force: never-pushed tags and the incoming table."""

    never_pushed: frozenset[str] = NEVER_PUSHED
    incoming: Mapping[str, str] = field(default_factory=lambda: dict(INCOMING))

    @classmethod
    def build(
        cls, new_tags: Iterable[str], never_push: Iterable[str], mapped: Mapping[str, str]
    ) -> TagMap:
        """The defaults plus ``new.tags``, extra never-pushed tags and table entries
        (keyword -> tag, ``""`` to ignore the keyword)."""
        incoming = dict(INCOMING)
        incoming.update((fold(k), t) for k, t in mapped.items())
        return cls(NEVER_PUSHED | frozenset(new_tags) | frozenset(never_push), incoming)

    def _outgoing(self) -> dict[str, str]:
        return {tag: k for k, tag in self.incoming.items() if tag}

    def keyword_of(self, tag: str) -> str | None:
        """The keyword ``tag`` is pushed as, or None when it is not pushed."""
        if tag in self.never_pushed:
            return None
        mapped = self._outgoing().get(tag)
        if mapped is not None:
            return mapped
        keyword = encode_tag(tag)
        if keyword is None or fold(keyword) in self.incoming:
            return None
        return keyword

    def tag_of(self, keyword: str) -> str | None:
        """The tag ``keyword`` is pulled as, or None when it is left alone."""
        key = fold(keyword)
        if key in self.incoming:
            return self.incoming[key] or None
        tag = decode_keyword(keyword)
        back = self.keyword_of(tag)
        # Only a tag that reads back as this keyword: anything else would flip-flop.
        return tag if back is not None and fold(back) == key else None

    def keywords(self, tags: Iterable[str]) -> frozenset[str]:
        return frozenset(k for t in tags if (k := self.keyword_of(t)) is not None)
