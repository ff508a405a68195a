"""isync's run-tests.pl scenarios (expiry, Old, maxuid topping) as data.

Each scenario is its config lines, the input table and the expected deltas, with
headers (MaxPulled, MaxExpired, MaxPushed) as in run-tests.pl; ``flipped`` swaps far
and near (run-tests.pl's flip for ExpireSide Far).  The decision-table tests
(test_plan_expiry.py) and the end-to-end Maildir tests (test_scenarios_e2e.py) run the
same list.
"""

from __future__ import annotations

from dataclasses import dataclass

from syncmail.config.model import ChannelOps, Operations
from syncmail.config.ops import effective_operations
from syncmail.config.parser import parse_config
from syncmail.sync.loads import _expiry
from syncmail.sync.plan import Expiry
from tests.unit.plan_tables import Header, Row


@dataclass(frozen=True)
class Scenario:
    name: str
    config: str  # Channel lines, as in run-tests.pl's third config string
    header: Header
    rows: list[Row]
    out_header: Header
    deltas: list[Row]
    flipped: bool = False
    far_store: str = ""  # extra lines of the far store (run-tests.pl's first string)
    near_store: str = ""
    # run-tests.pl's -Tu: new copies are found by X-TUID, as without UIDPLUS.
    no_uidplus: bool = False
    # run-tests.pl's -Tx: expunges are decided but not made.
    fake_expunge: bool = False


X30: list[Row] = [
    ("A", "*F", "", ""),
    ("B", "*", "", ""),
    ("C", "*S", "", ""),
    ("D", "*", "", ""),
    ("E", "*S", "", ""),
    ("F", "*", "", ""),
]

X33_HEADER: Header = ("G", "D", "G")
X33: list[Row] = [
    ("A", "*F", "*F", "*F"),
    ("B", "*", "*", "*S"),
    ("C", "*S", "*", "*"),
    ("D", "*S", "", ""),
    ("E", "*", "*", "*S"),
    ("F", "*S", "*S", "*S"),
    ("G", "*", "*", "*S"),
    ("H", "*", "", ""),
    ("I", "*", "", ""),
]
X33_OUT: list[Row] = [
    ("B", "+S", "+~S", "+T"),
    ("C", "", "+~S", "+ST"),
    ("E", "+S", "+~S", "+T"),
    ("F", "", "+~", "+T"),
    ("G", "+S", "+S", ""),
    ("H", "", "*", "*"),
    ("I", "", "*", "*"),
]

X60: list[Row] = [
    ("A", "*S", "", "_"),
    ("B", "*FS", "*FS", "*FS"),
    ("C", "*S", "", "_"),
    ("D", "*", "*", "*"),
    ("E", "*", "*", "*"),
    ("F", "*", "", ""),
    ("G", "*", "", ""),
    ("H", "", "", "*"),
    ("I", "", "", "_"),
    ("J", "*", "*", "*"),
]

X70_HEADER: Header = ("L", "E", "P")
X70: list[Row] = [
    ("A", "*", "", ""),
    ("B", "*F", "", ""),
    ("C", "", "", "*"),
    ("D", "*F", "*F", "*F"),
    ("E", "*", "", "_"),
    ("F", "*", "*", "*"),
    ("G", "_", "*T", "*T"),
    ("H", "*T", "*T", "_"),
    ("I", "", "", "*T"),
    ("J", "", "", "*"),
    ("K", "*T", "", ""),
    ("L", "*", "", ""),
    ("M", "_", "*T", "*T"),
    ("N", "*T", "*T", "_"),
    ("O", "", "", "*T"),
    ("P", "", "", "*"),
    ("Q", "*T", "", ""),
    ("R", "*", "", ""),
    ("S", "", "", "*"),
]
# x70a: without the entries that make pushed messages uncounted by expiry.
X70A: list[Row] = [r for r in X70 if r[0] not in "CFJP"]
X71_OUT: list[Row] = [
    ("N", "", ">", ""),
    ("S", "*", "*", ""),
    ("Q", "", "*T", "*T"),
    ("R", "", "*", "*"),
]
X72_COMMON: list[Row] = [
    ("G", "", "/", "/"),
    ("H", "", ">", ""),
    ("I", "", "", "/"),
    ("M", "", "/", "/"),
    ("N", "", ">", ""),
    ("O", "", "", "/"),
]

# "Weird": expiry overtook pulling.
X80_HEADER: Header = ("D", "L", "Q")
X80: list[Row] = [
    ("A", "", "", "*"),
    ("B", "*", "", ""),
    ("C", "*T", "", ""),
    ("D", "*F", "", ""),
    ("E", "_", "*T", "*T"),
    ("F", "*T", "*T", "_"),
    ("G", "", "", "*T"),
    ("H", "", "", "*"),
    ("I", "*T", "", ""),
    ("J", "*", "", ""),
    ("K", "*F", "*F", "*F"),
    ("L", "*", "*~", "_"),
    ("M", "*", "*", "*"),
    ("N", "_", "*T", "*T"),
    ("O", "*T", "*T", "_"),
    ("P", "", "", "*T"),
    ("Q", "", "", "*"),
    ("R", "*T", "", ""),
    ("S", "*", "", ""),
    ("T", "", "", "*T"),
    ("U", "", "", "*"),
]
X80A: list[Row] = [r for r in X80 if r[0] not in "AJMS"]
X81_COMMON: list[Row] = [
    ("F", "", ">", ""),
    ("L", "", "/", ""),
    ("O", "", ">", ""),
    ("T", "*T", "*T", ""),
    ("U", "*", "*", ""),
    ("I", "", "*T", "*T"),
]
X82_COMMON: list[Row] = [
    ("E", "", "/", "/"),
    ("F", "", ">", ""),
    ("G", "", "", "/"),
    ("L", "", "/", ""),
    ("N", "", "/", "/"),
    ("O", "", ">", ""),
    ("P", "", "", "/"),
    ("T", "", "", "/"),
]
X82A_OUT: list[Row] = [
    *X82_COMMON,
    ("H", "*", "*", ""),
    ("Q", "*", "*", ""),
    ("U", "*", "*", ""),
    ("D", "", "*F", "*F"),
]

NEW20 = "Sync New\nMaxMessages 20\nExpireUnread yes\n"
NEW3 = "Sync New\nMaxMessages 3\nExpireUnread yes\n"
OLD20_EXPUNGE = "Sync New Old\nMaxMessages 20\nExpireUnread yes\nExpunge Near\n"
OLD3_EXPUNGE = "Sync New Old\nMaxMessages 3\nExpireUnread yes\nExpunge Near\n"
PULL_OLD = "Sync Pull New Old\nMaxMessages 20\nExpireUnread yes\n"

EXPIRY_SCENARIOS: list[Scenario] = [
    Scenario(
        "max messages",
        "MaxMessages 3\n",
        (0, 0, 0),
        X30,
        ("F", "C", "F"),
        [
            ("A", "", "*F", "*F"),
            ("B", "", "*", "*"),
            ("D", "", "*", "*"),
            ("E", "", "*S", "*S"),
            ("F", "", "*", "*"),
        ],
    ),
    Scenario(
        "max messages vs. unread",
        "MaxMessages 3\nExpireUnread yes\n",
        (0, 0, 0),
        X30,
        ("F", "C", "F"),
        [
            ("A", "", "*F", "*F"),
            ("D", "", "*", "*"),
            ("E", "", "*S", "*S"),
            ("F", "", "*", "*"),
        ],
    ),
    Scenario(
        "max messages + expire - full",
        "MaxMessages 3\n",
        X33_HEADER,
        X33,
        ("I", "F", "I"),
        X33_OUT,
    ),
    Scenario(
        "max messages + expire far - full",
        "MaxMessages 3\nExpireSide Far\n",
        X33_HEADER,
        X33,
        ("I", "F", "I"),
        X33_OUT,
        flipped=True,
    ),
    Scenario(
        "max messages + expire - new",
        "Sync New\nMaxMessages 3\n",
        X33_HEADER,
        X33,
        ("I", "F", "I"),
        [
            ("B", "", "+~", "+T"),
            ("E", "", "+~", "+T"),
            ("F", "", "+~", "+T"),
            ("H", "", "*", "*"),
            ("I", "", "*", "*"),
        ],
    ),
    Scenario(
        "max messages + expire - too many new",
        "Sync New\nMaxMessages 3\nExpireUnread yes\n",
        ("B", 0, "B"),
        [
            ("A", "*F", "*F", "*F"),
            ("B", "*", "*", "*"),
            ("C", "*", "", ""),
            ("D", "*F", "", ""),
            ("E", "*", "", ""),
            ("F", "*", "", ""),
            ("G", "*", "", ""),
            ("H", "*F", "", ""),
        ],
        ("H", "E", "H"),
        [
            ("B", "", "+~", "+T"),
            ("D", "", "*F", "*F"),
            ("F", "", "*", "*"),
            ("G", "", "*", "*"),
            ("H", "", "*F", "*F"),
        ],
    ),
    Scenario(
        "max messages + expunge",
        "MaxMessages 3\nExpunge Both\n",
        ("F", "C", 0),
        [
            ("A", "*FS", "*FS", "*S"),
            ("B", "*FS", "*~S", "*ST"),
            ("C", "*S", "*~S", "_"),
            ("D", "*", "*", "*"),
            ("E", "*", "*", "*"),
            ("F", "*", "*", "*"),
        ],
        ("F", "C", "F"),
        [
            ("A", "-F", "/", "/"),
            ("B", "", "-~+F", "-T+F"),
            ("C", "", "/", ""),
        ],
    ),
    Scenario("maxuid topping", "Sync Flags\n", (0, "C", 0), X60, ("E", "C", "E"), []),
    Scenario(
        "maxuid topping (expire far)",
        "Sync Flags\nExpireSide Far\n",
        (0, "C", 0),
        X60,
        ("E", "C", "E"),
        [],
        flipped=True,
    ),
    Scenario("not old", NEW20, X70_HEADER, X70, ("S", "E", "R"), X71_OUT),
    Scenario("not old + expire", NEW3, X70_HEADER, X70, ("S", "E", "R"), X71_OUT),
    Scenario(
        "old + expunge near",
        OLD20_EXPUNGE,
        X70_HEADER,
        X70,
        ("S", "E", "R"),
        [
            *X72_COMMON,
            ("C", "*", "*", ""),
            ("J", "*", "*", ""),
            ("P", "*", "*", ""),
            ("S", "*", "*", ""),
            ("B", "", "*F", "*F"),
            ("L", "", "*", "*"),
            ("R", "", "*", "*"),
        ],
    ),
    Scenario(
        "old + expire + expunge near",
        OLD3_EXPUNGE,
        ("L", "E", "O"),
        X70A,
        ("S", "E", "R"),
        [
            *X72_COMMON,
            ("S", "*", "*", ""),
            ("B", "", "*F", "*F"),
            ("L", "", "*", "*"),
            ("R", "", "*", "*"),
        ],
    ),
    Scenario(
        "pull old",
        PULL_OLD,
        X70_HEADER,
        X70,
        ("R", "E", "P"),
        [
            ("B", "", "*F", "*F"),
            ("G", "", "<", ""),
            ("H", "", ">", ""),
            ("K", "", "*T", "*T"),
            ("L", "", "*", "*"),
            ("M", "", "<", ""),
            ("N", "", ">", ""),
            ("Q", "", "*T", "*T"),
            ("R", "", "*", "*"),
        ],
    ),
    Scenario(
        "weird not old",
        NEW20,
        X80_HEADER,
        X80,
        ("U", "L", "S"),
        [*X81_COMMON, ("J", "", "*", "*"), ("R", "", "*T", "*T"), ("S", "", "*", "*")],
    ),
    Scenario(
        "weird not old + expire",
        NEW3,
        X80_HEADER,
        X80,
        ("U", "L", "S"),
        [*X81_COMMON, ("R", "", "*T", "*T"), ("S", "", "*", "*")],
    ),
    Scenario(
        "weird old + expunge near",
        OLD20_EXPUNGE,
        X80_HEADER,
        X80,
        ("U", "L", "S"),
        [
            *X82_COMMON,
            ("A", "*", "*", ""),
            ("H", "*", "*", ""),
            ("Q", "*", "*", ""),
            ("U", "*", "*", ""),
            ("D", "", "*F", "*F"),
            ("J", "", "*", "*"),
            ("S", "", "*", "*"),
        ],
    ),
    Scenario(
        "weird old + expire + expunge near",
        OLD3_EXPUNGE,
        X80_HEADER,
        X80A,
        ("U", "L", "D"),
        X82A_OUT,
    ),
    Scenario(
        "weird old + expire far + expunge far",
        "Sync New Old\nMaxMessages 3\nExpireUnread yes\nExpireSide Far\nExpunge Far\n",
        X80_HEADER,
        X80A,
        ("U", "L", "D"),
        X82A_OUT,
        flipped=True,
    ),
    Scenario(
        "weird pull old",
        PULL_OLD,
        X80_HEADER,
        X80,
        ("S", "L", "Q"),
        [
            ("E", "", "<", ""),
            ("F", "", ">", ""),
            ("L", "", "/", ""),
            ("N", "", "<", ""),
            ("O", "", ">", ""),
            ("D", "", "*F", "*F"),
            ("I", "", "*T", "*T"),
            ("J", "", "*", "*"),
            ("R", "", "*T", "*T"),
            ("S", "", "*", "*"),
        ],
    ),
]


def scenario_config(sc: Scenario, root: str = "/nonexistent") -> str:
    """An mbsyncrc like run-tests.pl's: two Maildir stores, one channel (INBOX only, so
    trash boxes stay out), SyncState *."""
    return (
        f"FSync no\n\nMaildirStore far\nPath {root}/far/\nInbox {root}/far/INBOX\n"
        f"SubFolders Verbatim\n{sc.far_store}\n"
        f"MaildirStore near\nPath {root}/near/\nInbox {root}/near/INBOX\n"
        f"SubFolders Verbatim\n{sc.near_store}\n"
        f"Channel test\nFar :far:\nNear :near:\nPatterns INBOX\nSyncState *\n{sc.config}"
    )


def scenario_ops(sc: Scenario) -> tuple[Operations, Expiry]:
    """The effective operations and channel settings of a scenario, as the engine
    computes them."""
    config = parse_config(scenario_config(sc), "scenario-rc")
    channel = config.channels["test"]
    ops = effective_operations(config.globals, channel, ChannelOps())
    return ops, _expiry(config, channel)


# Generic syncing tests (run-tests.pl x01).
X01_HEADER: Header = ("I", 0, "I")
X01: list[Row] = [
    ("P", "_", "*", "_"),
    ("R", "*", "", ""),
    ("S", "", "", "*"),
    ("A", "*F", "*", "*"),
    ("B", "*", "*", "*F"),
    ("C", "*FS", "*", "*F"),
    ("D", "*", "*", "*"),
    ("E", "*T", "*", "*"),
    ("F", "*", "*", "*T"),
    ("O", "*T", "*T", "*T"),
    ("Q", "_", "*T", "*T"),
    ("G", "*F", "*", "_"),
    ("H", "*FT", "*", "*"),
    ("I", "_", "*", "*"),
    ("J", "*T", "", ""),
    ("K", "*P", "", ""),
    ("L", "", "", "*T"),
    ("M", "", "", "*"),
]
_PABC: list[Row] = [
    ("P", "", "/", ""),
    ("A", "", "+F", "+F"),
    ("B", "+F", "+F", ""),
    ("C", "", "+FS", "+S"),
]


def _x01(name: str, config: str, out: Header, deltas: list[Row]) -> Scenario:
    return Scenario(name, config, X01_HEADER, X01, out, deltas)


X01_FULL: list[Row] = [
    *_PABC,  # P both gone: entry removed; A, B flags each way; C both changed: union
    ("E", "", "+T", "+T"),  # T is a flag like the others
    ("F", "+T", "+T", ""),
    ("Q", "", "<", ""),  # far expunged, near T: far link dropped
    ("G", "+T", ">", ""),  # near expunged: T on far, near link dropped
    ("H", "", "+FT", "+FT"),
    ("I", "", "<", "+T"),  # far expunged: T on near
    ("L", "*T", "*T", ""),  # new near messages pushed, T included
    ("M", "*", "*", ""),
    ("J", "", "*T", "*T"),  # new far messages pulled
    ("K", "", "*P", "*P"),
]

GENERIC_SCENARIOS: list[Scenario] = [
    _x01("full", "", ("M", 0, "K"), X01_FULL),
    Scenario("full (non-UIDPLUS)", "", X01_HEADER, X01, ("M", 0, "K"), X01_FULL, no_uidplus=True),
    _x01(
        "full + expunge both",
        "Expunge Both\n",
        ("M", 0, "K"),
        [
            *_PABC,
            ("E", "/", "/", "/"),
            ("F", "/", "/", "/"),
            ("O", "/", "/", "/"),
            ("Q", "", "/", "/"),
            ("G", "/", "/", ""),
            ("H", "/", "/", "/"),
            ("I", "", "/", "/"),
            ("J", "/", "", ""),
            ("L", "", "", "/"),
            ("M", "*", "*", ""),
            ("K", "", "*P", "*P"),
        ],
    ),
    _x01(
        "full + expunge near side",
        "Expunge Near\n",
        ("M", 0, "K"),
        [
            *_PABC,
            ("E", "", ">+T", "/"),
            ("F", "+T", ">+T", "/"),
            ("O", "", ">", "/"),
            ("Q", "", "/", "/"),
            ("G", "+T", ">", ""),
            ("H", "", ">+T", "/"),
            ("I", "", "/", "/"),
            ("L", "", "", "/"),
            ("M", "*", "*", ""),
            ("K", "", "*P", "*P"),
        ],
    ),
    _x01(
        "pull",
        "Sync Pull\n",
        ("K", 0, "I"),
        [
            ("P", "", "/", ""),
            ("A", "", "+F", "+F"),
            ("C", "", "+FS", "+S"),
            ("E", "", "+T", "+T"),
            ("Q", "", "<", ""),
            ("H", "", "+FT", "+FT"),
            ("I", "", "<", "+T"),
            ("J", "", "*T", "*T"),
            ("K", "", "*P", "*P"),
        ],
    ),
    _x01(
        "flags",
        "Sync Flags\n",
        ("I", 0, "I"),
        [
            *_PABC,
            ("E", "", "+T", "+T"),
            ("F", "+T", "+T", ""),
            ("Q", "", "<", ""),
            ("H", "", "+FT", "+FT"),
        ],
    ),
    _x01(
        "gone",
        "Sync Gone\n",
        ("I", 0, "I"),
        [("P", "", "/", ""), ("G", "+T", ">", ""), ("Q", "", "<", ""), ("I", "", "<", "+T")],
    ),
    _x01(
        "new",
        "Sync New\n",
        ("M", 0, "K"),
        [
            ("L", "*T", "*T", ""),
            ("M", "*", "*", ""),
            ("J", "", "*T", "*T"),
            ("K", "", "*P", "*P"),
        ],
    ),
    _x01(
        "push flags + pull gone",
        "Sync PushFlags PullGone\n",
        ("I", 0, "I"),
        [
            ("P", "", "/", ""),
            ("B", "+F", "+F", ""),
            ("C", "", "+F", ""),
            ("F", "+T", "+T", ""),
            ("Q", "", "<", ""),
            ("I", "", "<", "+T"),
        ],
    ),
    _x01(
        "noop + expunge both",
        "Sync None\nExpunge Both\n",
        ("I", 0, "I"),
        [
            ("P", "", "/", ""),
            ("E", "/", "", ""),
            ("F", "", "", "/"),
            ("O", "/", "/", "/"),
            ("Q", "", "/", "/"),
            ("H", "/", "", ""),
            ("J", "/", "", ""),
            ("L", "", "", "/"),
        ],
    ),
    _x01(
        "noop + expunge near side",
        "Sync None\nExpunge Near\n",
        ("I", 0, "I"),
        [("F", "", "", "/"), ("O", "", "", "/"), ("Q", "", "", "/"), ("L", "", "", "/")],
    ),
]


# Mirroring expunges (run-tests.pl xa0).
XA0: list[Row] = [
    ("A", "*", "*", "*"),  # pair
    ("B", "*", "*", "*S"),  # expire
    ("C", "*T", "*", "*S"),  # expire with del
    ("D", "*T", "*", "*"),  # pair flag del
    ("E", "*", "*", "*T"),
    ("F", "*", "*T", "*T"),  # pair flag undel
    ("G", "*T", "*T", "*"),
    ("H", "_", "*", "*"),  # pair gone
    ("I", "*", "*", "_"),
    ("J", "**", "*>", "*F?"),  # upgrade
    ("K", "*F?", "*<", "**"),
    ("L", "*T*", "*>", "*F?"),  # doomed upgrade
    ("M", "*F?", "*<", "*T*"),
    ("N", "", "", "*T"),  # doomed new
    ("O", "*T", "", ""),
]
XA_COMMON: list[Row] = [
    ("B", "+S", "/", "/"),
    ("C", "+S", "+ST", "+T"),  # isync: "weird, but it's not worth handling"
    ("D", "", "+T", "+T"),
    ("E", "+T", "+T", ""),
    ("F", "", "-T", "-T"),
    ("G", "-T", "-T", ""),
    ("H", "", "/", "/"),
]
XA_UPGRADES: list[Row] = [
    ("J", "", ">->", "^*"),
    ("J", "", "", "&1/"),
    ("K", "^*", "<-<", ""),
]
XA_DOOMED_UPGRADES: list[Row] = [
    ("L", "", ">->+T", "^*T"),
    ("L", "", "", "&1/"),
    ("M", "^*T", "<-<+T", ""),
]
XA_NEW: list[Row] = [("N", "*T", "*T", ""), ("O", "", "*T", "*T")]
SOLO = "MaxMessages 1\nExpireUnread false\n"

SOLO_SCENARIOS: list[Scenario] = [
    Scenario(
        "expunge solo both",
        "ExpungeSolo Both\n" + SOLO,
        ("M", 0, "M"),
        XA0,
        ("N", "B", "O"),
        [
            *XA_COMMON,
            ("I", "/", "/", ""),
            *XA_UPGRADES,
            ("K", "&1/", "", ""),
            *XA_DOOMED_UPGRADES,
            ("M", "&1/", "", ""),
            *XA_NEW,
        ],
    ),
    Scenario(
        "expunge solo near",
        "ExpungeSolo Near\n" + SOLO,
        ("M", 0, "M"),
        XA0,
        ("N", "B", "O"),
        [
            *XA_COMMON,
            ("I", "+T", ">", ""),
            *XA_UPGRADES,
            ("K", "&1+T", "^", "|"),
            *XA_DOOMED_UPGRADES,
            ("M", "&1+T", "^", "|"),
            *XA_NEW,
        ],
    ),
    Scenario(
        "expunge far & solo near",
        "Expunge Far\nExpungeSolo Near\n" + SOLO,
        ("M", 0, "M"),
        XA0,
        ("K", "B", "J"),
        [
            ("B", "+S", "/", "/"),
            ("C", "/", "/", "/"),
            ("D", "/", "/", "/"),
            ("E", "/", "/", "/"),
            ("F", "", "-T", "-T"),
            ("G", "-T", "-T", ""),
            ("H", "", "/", "/"),
            ("I", "/", "/", ""),
            *XA_UPGRADES,
            ("K", "&1/", "", ""),
            ("L", "/", "/", "/"),
            ("M", "/", "/", "/"),
            ("N", "", "", "/"),
            ("O", "/", "", ""),
        ],
    ),
]


# Size restriction (run-tests.pl x20, x22, x24).
MAXSIZE = "MaxSize 1k\nSync Full Old\nExpunge Near\n"
MAXSIZE_SCENARIOS: list[Scenario] = [
    Scenario(
        "max size",
        MAXSIZE,
        (0, 0, 0),
        [("A", "*", "", ""), ("B", "*FPS*", "", ""), ("C", "", "", "*FS*")],
        ("C", 0, "B"),
        [
            ("C", "*S?", "*<S", ""),
            ("A", "", "*", "*"),
            ("B", "", "*>PS", "*PS?"),
        ],
    ),
    Scenario(
        "max size + flagging",
        MAXSIZE,
        ("L", 0, "V"),
        [
            ("A", "*", "", ""),
            ("B", "*PR*", "", ""),
            ("V", "*FPR*", "", ""),
            ("C", "*FPR?", "*<DP", "*DP*"),
            ("W", "*FPR?", "*<DP", "*DFP*"),
            ("M", "*FS?", "*<", "**"),
            ("N", "*FS?", "*<S", "**"),
            ("O", "*FS?", "*<S", "*S*"),
            ("P", "*FS?", "*<", "*S*"),
            ("Q", "*F?", "*<S", "*S*"),
            ("R", "*F?", "*<", "*S*"),
            ("S", "*F?", "*<S", "**"),
            ("D", "*PR?", "*<DP", "*DFP*"),
            ("E", "*PR*", "*>DP", "*DP?"),
            ("F", "*S*", "*>", "*?"),
            ("G", "*S*", "*>S", "*?"),
            ("H", "*S*", "*>S", "*S?"),
            ("I", "*S*", "*>", "*S?"),
            ("J", "**", "*>S", "*S?"),
            ("K", "**", "*>", "*S?"),
            ("L", "**", "*>S", "*?"),
            ("A", "", "*", "*"),
            ("B", "", "*>DP", "*DFP?"),
            ("V", "", "*>DP", "*DFP?"),
        ],
        ("S", 0, "V"),
        [
            ("B", "", ">->D+R", "^PR*"),
            ("B", "", "", "&1/"),
            ("V", "", ">->D+FR", "^FPR*"),
            ("V", "", "", "&1/"),
            ("C", "^PR*", "<-<D+R", "-D+R"),
            ("C", "&1+T", "^", "&"),
            ("W", "^FPR*", "<-<D+FR", "-D+R"),
            ("W", "&1+T", "^", "&"),
            ("M", "^*", "<-<", ""),
            ("M", "&1+T", "^", "&"),
            ("N", "^*", "<-<S", ""),
            ("N", "&1+T", "^", "&"),
            ("O", "^S*", "<-<", ""),
            ("O", "&1+T", "^", "&"),
            ("P", "^S*", "<-<+S", ""),
            ("P", "&1+T", "^", "&"),
            ("Q", "^*", "<-<S", "-S"),
            ("Q", "&1+T", "^", "&"),
            ("R", "^S*", "<-<+S", ""),
            ("R", "&1+T", "^", "&"),
            ("S", "^*", "<-<S", ""),
            ("S", "&1+T", "^", "&"),
            ("D", "", "-D+R", "-D+R"),
            ("E", "", "-D+R", "-D+R"),
            ("F", "", "+S", "+S"),
            ("G", "-S", "-S", ""),
            ("I", "", "+S", ""),
            ("J", "", "-S", "-S"),
            ("L", "", "-S", ""),
        ],
    ),
    Scenario(
        "max size (pre-1.4 legacy)",
        MAXSIZE,
        ("C", 0, "A"),
        [("A", "*", "*", "*"), ("B", "**", "*^", ""), ("C", "*FP*", "*^", "")],
        ("C", 0, "C"),
        [("B", "", ">-^+>", "*?"), ("C", "", ">-^+>P", "*P?")],
    ),
]


# Expiry with size restriction (run-tests.pl x40, x42): placeholders count by the real
# message's flags; flagged ones are upgraded, and an upgrade may expire before it is born.
SIZE_EXPIRY = "MaxSize 1k\nMaxMessages 3\nExpireUnread no\n"
SIZE_EXPIRY_SCENARIOS: list[Scenario] = [
    Scenario(
        "max size without upgrade + max messages",
        SIZE_EXPIRY,
        ("P", 0, "P"),
        [
            ("A", "**", "*>", "*?"),
            ("B", "**", "*>", "*S?"),
            ("C", "**", "*>S", "*S?"),
            ("D", "*S*", "*>S", "*S?"),
            ("E", "*S*", "*>", "*S?"),
            ("F", "*S*", "*>S", "*?"),
            ("G", "*S*", "*>", "*?"),
            ("H", "**", "*>S", "*?"),
            ("I", "*F*", "*>", "*?"),
            ("J", "*F*", "*>", "*S?"),
            ("K", "*F*", "*>S", "*S?"),
            ("L", "*FS*", "*>S", "*S?"),
            ("M", "*FS*", "*>", "*S?"),
            ("N", "*FS*", "*>S", "*?"),
            ("O", "*FS*", "*>", "*?"),
            ("P", "*F*", "*>S", "*?"),
            ("Q", "**", "", ""),
            ("R", "*FS*", "", ""),
            ("S", "*S*", "", ""),
            ("T", "**", "", ""),
            ("U", "*FS*", "", ""),
            ("V", "*S*", "", ""),
        ],
        ("V", "S", "V"),
        [
            ("C", "", "-S", "-S"),
            ("D", "", "+~", "+T"),
            ("E", "", "+~S", "+T"),
            ("F", "-S", "-S", ""),
            ("G", "", "+~S", "+ST"),
            ("H", "", "-S", ""),
            ("K", "", "-S", "-S"),
            ("M", "", "+S", ""),
            ("N", "-S", "-S", ""),
            ("O", "", "+S", "+S"),
            ("P", "", "-S", ""),
            ("Q", "", "*>", "*?"),
            ("R", "", "*>S", "*S?"),
            ("T", "", "*>", "*?"),
            ("U", "", "*>S", "*S?"),
            ("V", "", "*>S", "*S?"),
        ],
    ),
    Scenario(
        "max size with upgrade + max messages",
        SIZE_EXPIRY,
        ("T", "Q", "T"),
        [
            ("A", "**", "*>", "*F?"),
            ("B", "**", "*>", "*FS?"),
            ("C", "**", "*>S", "*FS?"),
            ("D", "*S*", "*>S", "*FS?"),
            ("E", "*S*", "*>", "*FS?"),
            ("F", "*S*", "*>S", "*F?"),
            ("G", "*S*", "*>", "*F?"),
            ("H", "**", "*>S", "*F?"),
            ("I", "*F*", "*>", "*F?"),
            ("J", "*F*", "*>", "*FS?"),
            ("K", "*F*", "*>S", "*FS?"),
            ("L", "*FS*", "*>S", "*FS?"),
            ("M", "*FS*", "*>", "*FS?"),
            ("N", "*FS*", "*>S", "*F?"),
            ("O", "*FS*", "*>", "*F?"),
            ("P", "*F*", "*>S", "*F?"),
            ("Q", "*S", "", ""),
            ("R", "*", "*", "*"),
            ("S", "*", "*", "*"),
            ("T", "*", "*", "*"),
        ],
        ("T", "Q", "P"),
        [
            row
            for subject, far, st, near in [
                ("A", "", ">->", "^*"),
                ("B", "", ">->", "^*"),
                ("C", "", ">->S", "^*"),
                ("D", "", "/", ""),
                ("E", "", "/", ""),
                ("F", "-S", ">->S", "^*"),
                ("G", "", "/", ""),
                ("H", "", ">->S", "^*"),
                ("I", "", ">->+F", "^F*"),
                ("J", "", ">->+F", "^F*"),
                ("K", "", ">->S+F", "^F*"),
                ("L", "", ">->+F", "^FS*"),
                ("M", "", ">->+FS", "^FS*"),
                ("N", "-S", ">->S+F", "^F*"),
                ("O", "", ">->+FS", "^FS*"),
                ("P", "", ">->S+F", "^F*"),
            ]
            for row in ((subject, far, st, near), (subject, "&", "^", "&1+T"))
        ],
    ),
]


# Messages that would be expunged at once on the target side (run-tests.pl x90), with
# -Tx: the near side's expunges are decided but not made, so what stays is visible.
DOOMED_SCENARIOS: list[Scenario] = [
    Scenario(
        "doomed",
        "Expunge Near\n",
        ("C", 0, "C"),
        [
            ("A", "*DRT*", "*>DS", "*DFPS?"),
            ("B", "*DR*", "*>DS", "*DFPST?"),
            ("C", "*", "*", "*"),
            ("D", "*T", "", ""),
        ],
        ("D", 0, "C"),
        [
            ("A", "+P", ">+P", "|"),
            ("A", "&", "^", "+T"),
            ("B", "+PT", ">+PT", "|"),
            ("B", "&", "^", ""),
        ],
        fake_expunge=True,
    ),
]


# Trashing (run-tests.pl x10).
X10: list[Row] = [
    ("A", "*", "*~", "*T"),
    ("B", "*T", "*^", ""),
    ("C", "*T", "*", "*T"),
    ("D", "_", "*", "*"),
    ("E", "*", "*", "_"),
    ("F", "**", "*>", "*T?"),
    ("G", "*T?", "*<", "**"),
    ("H", "**", "*>", "*FT?"),
    ("I", "*FT?", "*<", "**"),
    ("J", "**", "*>", "*F?"),
    ("K", "*F?", "*<", "**"),
    ("L", "*T", "", ""),
    ("M", "", "", "*T"),
    ("R", "", "", "*"),  # forces maxuid in the interrupt-resume test
    ("S", "*", "", ""),
]
TRASH_CHANNEL = "MaxMessages 20\nExpireUnread yes\nMaxSize 1k\nExpunge Both\n"
X11_COMMON: list[Row] = [
    ("A", "", "/", "/"),
    ("B", "#/", "/", ""),
    ("E", "#/", "/", ""),
    ("F", "#/", "/", "/"),
    ("H", "#/", "/", "/"),
    ("J", "", ">->", "^*"),
    ("J", "", "", "&1/"),
    ("K", "^*", "<-<", ""),
    ("K", "&1/", "", ""),
    ("L", "#/", "", ""),
    ("R", "*", "*", ""),
    ("S", "", "*", "*"),
]

TRASH_SCENARIOS: list[Scenario] = [
    Scenario(
        "trash",
        TRASH_CHANNEL,
        ("K", "A", "K"),
        X10,
        ("R", "A", "S"),
        [
            *X11_COMMON,
            ("C", "#/", "/", "#/"),
            ("D", "", "/", "#/"),
            ("G", "/", "/", "#/"),
            ("I", "/", "/", "#/"),
            ("M", "", "", "#/"),
        ],
        far_store="Trash far_trash\n",
        near_store="Trash near_trash\n",
    ),
    Scenario(
        "trash only new",
        TRASH_CHANNEL,
        ("K", "A", "K"),
        X10,
        ("R", "A", "S"),
        [
            *X11_COMMON,
            ("C", "#/", "/", "/"),
            ("D", "", "/", "/"),
            ("G", "/", "/", "#/"),
            ("I", "/", "/", "#/"),
            ("M", "", "", "#/"),
        ],
        far_store="Trash far_trash\n",
        near_store="Trash near_trash\nTrashNewOnly true\n",
    ),
    Scenario(
        "trash new remotely",
        TRASH_CHANNEL,
        ("K", "A", "K"),
        X10,
        ("R", "A", "S"),
        [
            *X11_COMMON,
            ("C", "#/", "/", "/"),
            ("D", "", "/", "/"),
            ("G", "#/", "/", "/"),
            ("I", "#/", "/", "/"),
            ("M", "#", "", "/"),
        ],
        far_store="Trash far_trash\nTrashRemoteNew true\n",
    ),
    Scenario(
        "trash near (expire far)",
        "Sync Flags Gone\nMaxMessages 20\nExpireUnread yes\nExpireSide Far\nMaxSize 1k\n"
        "Expunge Both\n",
        ("K", "A", "K"),
        X10,
        ("K", "A", "K"),
        [
            ("A", "", "/", "/"),
            ("B", "/", "/", ""),
            ("C", "/", "/", "#/"),
            ("D", "", "/", "#/"),
            ("E", "/", "/", ""),
            ("F", "/", "/", "/"),
            ("G", "/", "/", "#/"),
            ("H", "/", "/", "/"),
            ("I", "/", "/", "#/"),
            ("L", "/", "", ""),
            ("M", "", "", "#/"),
        ],
        flipped=True,
        far_store="Trash far_trash\n",
    ),
]
