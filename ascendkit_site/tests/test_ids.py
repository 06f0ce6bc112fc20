import re
from unittest import mock

from ascendkit_site import ids


def test_a_minted_id_is_its_prefix_then_24_base62_characters():
    minted = ids.mint("evt")

    assert re.fullmatch(r"evt_[0-9A-Za-z]{24}", minted)
    assert ids.is_visitor_id(ids.mint("vis"))


def test_minted_ids_sort_by_the_millisecond_they_were_made_in():
    with mock.patch.object(ids.time, "time_ns", return_value=1_764_000_000_000 * 1_000_000):
        earlier = [ids.mint("ses") for _ in range(50)]
    with mock.patch.object(ids.time, "time_ns", return_value=1_764_000_000_001 * 1_000_000):
        later = [ids.mint("ses") for _ in range(50)]

    assert max(earlier) < min(later)
    assert {minted[:12] for minted in earlier} == {earlier[0][:12]}


def test_the_random_part_never_repeats_and_uses_the_whole_alphabet():
    minted = [ids.mint("msg") for _ in range(20_000)]

    assert len(set(minted)) == len(minted)
    assert set("".join(one[12:] for one in minted)) == set(ids.BASE62)
