"""The corridor at a glance: how many sites, how dense, how busy, of which kinds."""

from __future__ import annotations

from collections import Counter


def summarise(sites: list[dict], observations: list[dict], length_km: float, corridor: str = "") -> dict:
    """Counts over the confirmed sites (candidates counted apart), per km, by scale and kind.

    Scale by date says how busy the river was on each date (the trend matters as
    much as one snapshot): the number of confirmed sites per scale on that date.
    """
    confirmed = [s for s in sites if s.get("status") == "site"]
    ids = {s["site_id"] for s in confirmed}
    by_date: dict[str, Counter] = {}
    for o in observations:
        if o["site_id"] in ids:
            by_date.setdefault(str(o["date"]), Counter())[o["scale"]] += 1
    n = len(confirmed)
    return {
        "corridor": corridor,
        "length_km": round(float(length_km), 3),
        "sites": n,
        "candidates": sum(s.get("status") == "candidate" for s in sites),
        "sites_per_km": round(n / length_km, 4) if length_km > 0 else None,
        "km_per_site": round(length_km / n, 2) if n else None,
        "by_scale": dict(sorted(Counter(s["scale"] for s in confirmed).items())),
        "by_kind": dict(sorted(Counter(s["kind"] for s in confirmed).items())),
        "by_date": {d: dict(sorted(c.items())) for d, c in sorted(by_date.items())},
    }
