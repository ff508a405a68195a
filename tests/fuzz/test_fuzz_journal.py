"""Fuzzing the journal reader: any journal replays onto a state, or gives a StateError."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from syncmail.errors import StateError
from syncmail.sync.journal import VERSION, replay
from syncmail.sync.state import SyncRecord, SyncState, format_state

PATH = "/fuzz/.mbsyncstate.journal"
CODES = "|NFT+-&_P#<>*%~^$"

# Mostly UIDs of the pairs below, so that entries find their pair and change it.
number = st.one_of(
    st.integers(0, 6),
    st.integers(0, 6),
    st.integers(0, 6),
    st.integers(0, 0xFFFFFFFF),
    st.sampled_from([0x100000000, 10**30]),
).map(str)
tuid = st.one_of(
    st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
            min_size=12, max_size=12),
    st.text(max_size=14),
)  # fmt: skip
ARITY = {"|": 2, "N": 2, "F": 2, "T": 2, "+": 2, "-": 2, "&": 2, "_": 2, "P": 2,
         "<": 3, ">": 3, "*": 3, "%": 3, "~": 3, "^": 3, "$": 4}  # fmt: skip
well_formed = st.sampled_from(sorted(ARITY)).flatmap(
    lambda code: st.lists(number, min_size=ARITY[code], max_size=ARITY[code]).map(
        lambda args: (code + " " + " ".join(args)).encode()
    )
)
entry = st.one_of(
    well_formed,
    well_formed,
    well_formed,
    st.builds(
        lambda code, args: (code + " " + " ".join(args)).encode("utf-8", "surrogatepass"),
        st.sampled_from(CODES),
        st.lists(st.one_of(number, st.sampled_from(["S_PENDING", "-1", "x", ""])), max_size=5),
    ),
    st.builds(lambda a, b, t: f"# {a} {b} {t}".encode(), number, number, tuid),
    st.binary(max_size=140).filter(lambda b: b"\n" not in b),
)
journal = st.builds(
    lambda first, body, torn: [first + b"\n", *(line + b"\n" for line in body), *torn],
    st.sampled_from([str(VERSION).encode()] * 8 + [b"4", b"", b"5 "]),
    st.lists(entry, max_size=15),
    st.lists(st.binary(max_size=20).filter(lambda b: b"\n" not in b), max_size=1),
)
records = st.lists(
    st.builds(SyncRecord, st.integers(0, 6), st.integers(0, 6), st.integers(0, 63),
              st.sampled_from([0, 4, 32, 64, 128])),
    max_size=6,
)  # fmt: skip


@given(journal, records, st.sampled_from(["near", "far"]))
def test_any_journal(lines: list[bytes], recs: list[SyncRecord], expire_side: str) -> None:
    state = SyncState(far_uidvalidity=1, near_uidvalidity=2, max_pulled=3, max_pushed=3,
                      records=recs)  # fmt: skip
    try:
        info = replay(state, lines, PATH, expire_side=expire_side, channel="c", box="b")
    except StateError as exc:
        assert exc.path == PATH and 1 <= exc.line <= len(lines)
        return
    assert info.lines <= len(lines)
    # The replayed state is what the run goes on with, and commits.
    format_state(state, expire_side=expire_side)
