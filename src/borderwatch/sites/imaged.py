"""Which ground each date's imagery shows: a site outside it was not seen on that date, not idle.

The reporters' strongest claim is a trend: traffic fell after a crackdown. A date
whose scenes cover only part of a stretch must not report the sites it missed as
empty, or "no vehicles on 13 September" reads as traffic stopped where the image
simply ends. So the register observes a site on a date only where that date's
analysed imagery shows at least ``MIN_IMAGED_SHARE`` of the site's outline, and
records the share it saw: a site partly outside the image may be under-counted.

The ground a date shows is the valid-data footprints of the scenes its tiles were
read from (``Scene.footprint_wkt``, traced from each scene's mask), within the
tiles the run analysed for that date.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import shapely

from borderwatch.corridor.model import Corridor
from borderwatch.imagery.scene import Scene

__all__ = ["FULLY_IMAGED_SHARE", "MIN_IMAGED_SHARE", "imaged_areas", "imaged_share"]

#: a site less than half inside a date's imagery gets no observation on that date (not seen, not zero)
MIN_IMAGED_SHARE = 0.5
#: below this share a site's counts on that date are marked as from a partly imaged site
FULLY_IMAGED_SHARE = 0.95


def imaged_areas(tiles: Iterable[Mapping[str, Any]], scenes: Iterable[Scene], corridor: Corridor) -> dict[str, Any]:
    """ISO date -> the ground the date's analysed imagery shows, in ``corridor``'s CRS (empty: none).

    ``tiles`` are stored tile results (lon/lat tile squares, ``stats.scene_ids``; a tile no
    scene touched has an empty list). A date is left out, its imaged ground unknown, when
    its results carry no scene ids (written before they were kept) or name a scene the
    store no longer holds.
    """
    by_id = {s.scene_id: s for s in scenes}
    squares: dict[str, list] = {}
    ids: dict[str, set[str]] = {}
    known: set[str] = set()
    for r in tiles:
        date, stats = str(r["date"]), r.get("stats") or {}
        squares.setdefault(date, []).append(r["geometry"])
        ids.setdefault(date, set()).update(stats.get("scene_ids") or ())
        if "scene_ids" in stats:
            known.add(date)
    out = {}
    for date, names in ids.items():
        if date not in known or not names <= by_id.keys():
            continue
        feet = [shapely.make_valid(shapely.from_wkt(by_id[n].footprint_wkt)) for n in sorted(names)]
        shown = shapely.intersection(shapely.union_all(feet), shapely.union_all(squares[date]))  # empty: no scene
        out[date] = corridor.from_lonlat(shown)
    return out


def imaged_share(outline, imaged) -> float | None:
    """The share of ``outline``'s area inside ``imaged`` (None: unknown, no imaged area given)."""
    if imaged is None:
        return None
    area = outline.area
    if area <= 0:
        return 1.0 if imaged.covers(outline) else 0.0
    return float(outline.intersection(imaged).area / area)
