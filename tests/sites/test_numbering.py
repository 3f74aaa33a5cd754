"""Site numbers that stay put: labels in river order, never given twice, a fresh edition on request."""

from __future__ import annotations

import pytest

from borderwatch.sites.numbering import SiteNumber, assign_numbers


def labels(numbering, order):
    return [numbering.numbers[s].label for s in order]


def held(**kw):
    return {k: SiteNumber.parse(v) for k, v in kw.items()}


def test_a_fresh_register_is_numbered_one_to_n_in_river_order():
    n = assign_numbers(["a", "b", "c"], {})
    assert labels(n, "abc") == ["1", "2", "3"] and n.new == ["a", "b", "c"] and n.changed == []


def test_sites_downstream_take_the_next_numbers_and_sites_between_take_letters():
    order = ["new0", "a", "new1", "new2", "b", "c", "new3"]
    n = assign_numbers(order, held(a="1", b="2", c="3"))
    assert labels(n, order) == ["0a", "1", "1a", "1b", "2", "3", "4"]
    assert n.changed == [] and n.new == ["new0", "new1", "new2", "new3"]
    ordered = [n.numbers[s] for s in order]
    assert ordered == sorted(ordered)  # the labels read in river order


def test_a_number_given_before_is_never_given_again():
    # site 4 and 1a are gone, their numbers stay taken
    n = assign_numbers(["a", "x", "b", "y"], held(a="1", b="2"), issued=[SiteNumber.parse(v) for v in ("1", "1a", "2", "4")])
    assert labels(n, ["a", "x", "b", "y"]) == ["1", "1b", "2", "5"]


def test_between_two_lettered_sites_the_letters_go_one_deeper():
    n = assign_numbers(["a", "b", "x", "c"], held(a="1", b="1a", c="1b"))
    assert labels(n, "abxc") == ["1", "1a", "1aa", "1b"]
    n = assign_numbers(["a", "b", "x", "c"], held(a="1", b="1z", c="2"))
    assert labels(n, "abxc") == ["1", "1z", "1za", "2"]


def test_where_no_label_fits_the_downstream_neighbour_is_numbered_again():
    # nothing lies between 1 and 1a: 1a is labelled again after the new site
    n = assign_numbers(["a", "x", "b", "c"], held(a="1", b="1a", c="2"))
    assert labels(n, "axbc") == ["1", "1b", "1c", "2"]
    assert n.changed == [("b", SiteNumber(1, "a"), SiteNumber(1, "c"))]


def test_a_held_number_out_of_river_order_is_replaced():
    n = assign_numbers(["a", "b", "c"], held(a="2", b="1", c="3"))
    assert labels(n, "abc") == ["2", "2a", "3"]
    assert [sid for sid, _, _ in n.changed] == ["b"]


def test_labels_parse_and_sort_as_the_river_runs():
    assert SiteNumber.parse("12a") == SiteNumber(12, "a") and SiteNumber.parse(7).label == "7"
    assert sorted(map(SiteNumber.parse, ["2", "1b", "10", "1", "1a", "1aa"])) == list(
        map(SiteNumber.parse, ["1", "1a", "1aa", "1b", "2", "10"]))
    for bad in ("", "a1", "12A", "-3", "1.5"):
        with pytest.raises(ValueError, match="not a site number"):
            SiteNumber.parse(bad)
    with pytest.raises(ValueError, match="unique"):
        assign_numbers(["a", "a"], {})
