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
    """ISO date -> the ground the date's analysed imagery shows, in ``corridor``'s CRS.

    ``tiles`` are stored tile results (lon/lat tile squares, ``stats.scene_ids``). A date
    whose results name no stored scene (results written before scene ids were kept) is
    left out: how much of it was imaged is unknown.
    """
    by_id = {s.scene_id: s for s in scenes}
    squares: dict[str, list] = {}
    ids: dict[str, set[str]] = {}
    for r in tiles:
        date = str(r["date"])
        squares.setdefault(date, []).append(r["geometry"])
        ids.setdefault(date, set()).update((r.get("stats") or {}).get("scene_ids") or ())
    out = {}
    for date, names in ids.items():
        feet = [shapely.make_valid(shapely.from_wkt(by_id[n].footprint_wkt)) for n in sorted(names) if n in by_id]
        if feet:
            shown = shapely.intersection(shapely.union_all(feet), shapely.union_all(squares[date]))
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
