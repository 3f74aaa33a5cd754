"""The corridor at a glance: how many sites, how dense, how busy, of which kinds."""

from __future__ import annotations

from collections import Counter

from borderwatch.sites.imaged import FULLY_IMAGED_SHARE


def summarise(sites: list[dict], observations: list[dict], length_km: float, corridor: str = "") -> dict:
    """Counts over the confirmed sites (candidates counted apart), per km, by scale and kind.

    Scale by date says how busy the river was on each date (the trend matters as
    much as one snapshot): the number of confirmed sites per scale on that date.
    ``trend`` adds, per date, how many of the confirmed sites that date's imagery
    showed and the vehicles counted at them, so a date that imaged half the river
    does not read as a fall in traffic.
    """
    confirmed = [s for s in sites if s.get("status") == "site"]
    ids = {s["site_id"] for s in confirmed}
    by_date: dict[str, Counter] = {}
    seen: dict[str, list[dict]] = {}
    for o in observations:
        if o["site_id"] in ids:
            by_date.setdefault(str(o["date"]), Counter())[o["scale"]] += 1
            seen.setdefault(str(o["date"]), []).append(o)
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
        # every date the register observed any site on (a date that imaged no confirmed site reads "0 of N")
        "trend": {d: _date_totals(seen.get(d, []), n) for d in sorted({str(o["date"]) for o in observations})},
    }


def _date_totals(observed: list[dict], confirmed: int) -> dict:
    """One date over the confirmed sites: how many its imagery showed, and the vehicles counted at them.

    A total is None (unknown) when any observed site has no count for it: no detector ran,
    or the register left the date's counts out (snow, river ice; ``counts_withheld`` says why).
    """
    counts = [o.get("counts") or {} for o in observed]
    totals = {}
    for key in ("vehicles", "large_vehicle", "heavy_equipment", "small_vehicle"):
        values = [c.get(key) for c in counts]
        totals[key] = None if not values or any(v is None for v in values) else int(sum(values))
    withheld = sorted({str(c["counts_withheld"]) for c in counts if c.get("counts_withheld")})
    partly = sum(1 for c in counts if c.get("imaged_share") is not None and c["imaged_share"] < FULLY_IMAGED_SHARE)
    return {"sites": confirmed, "imaged": len(observed), "partly_imaged": partly, **totals,
            "counts_withheld": " and ".join(withheld) or None}
