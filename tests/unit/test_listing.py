"""``Listing``: a box's messages by UID, each described only when looked up.

It must answer exactly as the dict of ``MessageInfo`` it stands for, while its
``flags`` stay true to every change made through the mapping.
"""

from __future__ import annotations

import pytest

from syncmail import flags as F
from syncmail.store.base import Listing, MessageInfo, as_listing


def maildir_listing() -> Listing:
    return Listing(
        {3: F.SEEN, 1: 0, 7: F.FLAGGED | F.SEEN},
        paths={3: "cur/a,U=3:2,S", 1: "new/b,U=1", 7: "cur/c,U=7:2,FS"},
    )


def test_lazy_listing_answers_as_the_dict_it_stands_for() -> None:
    listing = maildir_listing()
    expected = {
        3: MessageInfo(3, F.SEEN, path="cur/a,U=3:2,S"),
        1: MessageInfo(1, 0, path="new/b,U=1"),
        7: MessageInfo(7, F.FLAGGED | F.SEEN, path="cur/c,U=7:2,FS"),
    }
    assert listing.described() == {}  # nothing made before it is asked
    assert listing == expected
    assert list(listing) == [3, 1, 7]  # the listing's own order
    assert len(listing) == 3 and 7 in listing and 2 not in listing
    assert listing.get(2) is None and listing.get(2, expected[1]) is expected[1]
    with pytest.raises(KeyError):
        listing[2]
    # One object per message, made once.
    assert listing[3] is listing[3] is listing.get(3)


def test_keywords_per_message_or_the_default() -> None:
    none: frozenset[str] = frozenset()
    listing = Listing({1: 0, 2: F.SEEN}, keywords={2: frozenset({"$label1"})}, no_keywords=none)
    assert listing[1].keywords == none
    assert listing[2].keywords == frozenset({"$label1"})
    assert listing[1].path is None
    assert Listing({1: 0})[1].keywords is None  # a store without keywords (Maildir)


def test_sizes_and_keywords_by_uid_make_no_info() -> None:
    label = frozenset({"$label1"})
    listing = Listing(
        {1: 0, 2: F.SEEN}, sizes={1: 100, 2: 2500}, keywords={2: label}, no_keywords=frozenset()
    )
    assert (listing.size(2), listing.keywords(2), listing.keywords(1)) == (2500, label, frozenset())
    assert listing.described() == {}
    assert listing[2] == MessageInfo(2, F.SEEN, size=2500, keywords=label)
    assert listing.size(2) == 2500  # described now: answered from its MessageInfo
    plain = Listing({1: 0})
    assert plain.size(1) == 0 and plain.keywords(1) is None


def test_changes_through_the_mapping_keep_flags_true() -> None:
    listing = maildir_listing()
    listing[3] = MessageInfo(3, F.TRASHED, path="cur/a,U=3:2,T")
    listing[9] = MessageInfo(9, F.DRAFT)
    del listing[1]
    assert listing.flags == {3: F.TRASHED, 7: F.FLAGGED | F.SEEN, 9: F.DRAFT}
    assert listing.path(3) == "cur/a,U=3:2,T"
    # Gone from the listing, though the paths it was made with still name it.
    assert listing.path(1) is None and 1 not in listing
    assert listing.path(7) == "cur/c,U=7:2,FS"
    assert set(listing.described()) == {3, 9}  # 7 was asked its path only


def test_of_takes_described_messages_as_they_are() -> None:
    infos = {5: MessageInfo(5, F.SEEN, size=1234, tuid="abc")}
    listing = Listing.of(infos)
    assert listing.flags == {5: F.SEEN}
    assert listing[5] is infos[5]
    assert listing.path(5) is None


def test_as_listing() -> None:
    listing = maildir_listing()
    assert as_listing(listing) is listing
    plain = {4: MessageInfo(4, F.SEEN)}
    converted = as_listing(plain)
    assert converted == plain and converted.flags == {4: F.SEEN}
    converted[4] = MessageInfo(4, 0)
    assert plain[4].flags == F.SEEN  # a plain mapping is copied, not changed
