"""Site numbers that stay put once given: a published "site 12" keeps meaning the same place.

A register is first numbered 1, 2, 3 ... in river order. Later builds (a new date, a
rerun) keep every number already given. A site confirmed downstream of all numbered
ones takes the next whole number; one confirmed between two numbered sites takes its
upstream neighbour's number and a letter (12a lies between 12 and 13, 12b after 12a),
so the labels still read in river order. A label given once in a numbering edition is
never given to another site, even after its site is gone. ``assign_numbers`` with no
earlier numbers is a fresh edition: 1 .. N in river order, for when the people who
publish the numbers choose to renumber.

This is the suffix convention of inserted stations and survey points; it is written
here because no library keeps it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

_LABEL = re.compile(r"^(\d+)([a-z]*)$")


@dataclass(frozen=True, order=True)
class SiteNumber:
    """A site's number: a whole number and a letter suffix ('' for none); ordered as the river runs."""

    number: int
    suffix: str = ""

    @property
    def label(self) -> str:
        return f"{self.number}{self.suffix}"

    @classmethod
    def parse(cls, label: object) -> SiteNumber:
        """``12`` -> (12, ''), ``'12a'`` -> (12, 'a'); anything else is a ValueError."""
        m = _LABEL.match(str(label).strip())
        if m is None:
            raise ValueError(f"not a site number: {label!r} (expected digits and lower-case letters, e.g. 12 or 12a)")
        return cls(int(m.group(1)), m.group(2))

    def __str__(self) -> str:
        return self.label


def site_label(site: Mapping[str, Any]) -> str | None:
    """The number a stored site is published under (12, or 12a); None for a candidate.

    Registers written before labels existed carry the number only.
    """
    label = site.get("label")
    if label is not None and str(label) != "":
        return str(label)
    return None if site.get("number") is None else str(site["number"])


def site_number(site: Mapping[str, Any]) -> SiteNumber | None:
    """A stored site's number as a sortable SiteNumber; None for a candidate."""
    label = site_label(site)
    return None if label is None else SiteNumber.parse(label)


@dataclass
class Numbering:
    """What assign_numbers gave: every confirmed site's number, and what is new or changed."""

    numbers: dict[str, SiteNumber]
    new: list[str] = field(default_factory=list)  # numbered for the first time in this edition
    changed: list[tuple[str, SiteNumber, SiteNumber]] = field(default_factory=list)  # (site, was, now)


def assign_numbers(
    order: Sequence[str],
    held: Mapping[str, SiteNumber],
    issued: Iterable[SiteNumber] = (),
) -> Numbering:
    """Numbers for the confirmed sites ``order`` (ids in river order).

    ``held``: the number each site had before in this edition (sites not in ``order``
    may be listed: they keep their claim and nobody else gets it). ``issued``: every
    number given in this edition, to sites present or gone; none is given again.
    A held number is kept unless it would break river order (two sites swapped
    places), or no label fits between two numbered neighbours (a site confirmed
    between 12 and 12a): then the downstream site of the two is numbered again,
    which ``changed`` reports.
    """
    if len(set(order)) != len(order):
        raise ValueError("site ids must be unique")
    used = set(issued) | set(held.values())
    # keep held numbers in river order (greedy from the origin)
    keep: dict[str, SiteNumber] = {}
    last: SiteNumber | None = None
    for sid in order:
        n = held.get(sid)
        if n is not None and (last is None or n > last):
            keep[sid] = n
            last = n
    while True:
        out = _fill(order, keep, used)
        if isinstance(out, dict):
            break
        del keep[out]  # no room before this site: it is numbered again with those before it
    new = [sid for sid in order if sid not in held]
    changed = [(sid, held[sid], out[sid]) for sid in order if sid in held and held[sid] != out[sid]]
    return Numbering(out, new, changed)


def _fill(order: Sequence[str], keep: Mapping[str, SiteNumber], used: set[SiteNumber]) -> dict[str, SiteNumber] | str:
    """Numbers for the sites between kept ones; or the id of a kept site no label fits before."""
    out = dict(keep)
    taken = set(used)
    top = max((n.number for n in taken), default=0)
    i = 0
    while i < len(order):
        if order[i] in keep:
            i += 1
            continue
        j = i
        while j < len(order) and order[j] not in keep:
            j += 1
        lo = keep[order[i - 1]] if i > 0 else None
        hi = keep[order[j]] if j < len(order) else None
        if hi is None:  # downstream of every numbered site: the next whole numbers
            for sid in order[i:j]:
                top += 1
                out[sid] = SiteNumber(top)
                taken.add(out[sid])
        else:
            base = lo.number if lo is not None else 0
            cur = lo.suffix if lo is not None else ""
            bound = hi.suffix if hi.number == base else None
            letters = {n.suffix for n in taken if n.number == base}
            for sid in order[i:j]:
                nxt = _suffix_after(cur, bound, letters)
                if nxt is None:
                    return order[j]
                out[sid] = SiteNumber(base, nxt)
                letters.add(nxt)
                cur = nxt
        i = j
    return out


def _succ(s: str) -> str:
    """The next suffix: '' -> a, a -> b, z -> za, az -> aza (always greater)."""
    if not s:
        return "a"
    return s[:-1] + chr(ord(s[-1]) + 1) if s[-1] < "z" else s + "a"


def _suffix_after(cur: str, bound: str | None, taken: set[str]) -> str | None:
    """The first free suffix after ``cur`` and before ``bound`` (None: no bound), or None when none fits."""
    cand = _succ(cur)
    while True:
        if bound is not None and cand >= bound:
            cand = cur + "a"  # the smallest suffix after cur
            if cand >= bound:
                return None
        if cand not in taken:
            return cand
        cur, cand = cand, _succ(cand)
