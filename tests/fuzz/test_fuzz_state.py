"""Fuzzing the sync state reader: any bytes give a SyncState or a StateError naming the line."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from syncmail.errors import StateError
from syncmail.sync.state import SyncState, format_state, parse_state

PATH = "/fuzz/.mbsyncstate"
HEADER_KEYS = (
    b"FarUidValidity", b"NearUidValidity", b"MasterUidValidity", b"SlaveUidValidity",
    b"MaxPulledUid", b"MaxPushedUid", b"MaxExpiredFarUid", b"MaxExpiredNearUid",
    b"MaxExpiredMasterUid", b"MaxExpiredSlaveUid", b"Bogus",
)  # fmt: skip

number = st.one_of(
    st.integers(0, 20),
    st.integers(0, 0xFFFFFFFF),
    st.sampled_from([0xFFFFFFFF, 0x100000000, 10**40]),
).map(lambda n: str(n).encode())
token = st.one_of(number, st.sampled_from([b"-1", b"+7", b"-", b"x", b"", b"1:2"]))
marks = st.text(alphabet="<>^~XDFPRST", max_size=8).map(str.encode)
header_line = st.one_of(
    st.builds(lambda k, v: k + b" " + v, st.sampled_from(HEADER_KEYS), token),
    st.builds(lambda a, b, c, d, e: b"%s:%s %s:%s:%s" % (a, b, c, d, e),
              token, token, token, token, token),
)  # fmt: skip
entry = st.one_of(
    st.builds(lambda a, b, m: a + b" " + b + b" " + m, token, token, marks),
    st.binary(max_size=140).filter(lambda b: b"\n" not in b),
)
state_bytes = st.builds(
    lambda head, body, tail: b"\n".join([*head, b"", *body]) + tail,
    st.lists(header_line, max_size=7),
    st.lists(entry, max_size=12),
    st.sampled_from([b"\n", b"", b"\n\n", b"7 8"]),
)


def read(data: bytes, expire_side: str) -> SyncState | None:
    try:
        return parse_state(data, PATH, expire_side=expire_side, channel="c", box="b")
    except StateError as exc:
        assert exc.path == PATH and exc.line >= 0
        return None


@given(st.one_of(st.binary(), state_bytes), st.sampled_from(["near", "far"]))
def test_any_state_file(data: bytes, expire_side: str) -> None:
    state = read(data, expire_side)
    if state is None:
        return
    # What was read can be written, and reads back the same.
    again = read(format_state(state, expire_side=expire_side), expire_side)
    assert again is not None
    assert [(r.far_uid, r.near_uid, r.flags) for r in again.records] == [
        (r.far_uid, r.near_uid, r.flags) for r in state.records
    ]
