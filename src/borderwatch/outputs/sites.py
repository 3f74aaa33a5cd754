"""The crossing-site register as users see it: GeoJSON for QGIS, CSV for spreadsheets, a text table.

Everything here reads the stored ``sites`` and ``observations`` rows (see
:mod:`borderwatch.sites`), so the files can be regenerated from a store alone.
Per-date values appear twice in the GeoJSON: nested under ``dates`` (for
scripts) and as flat ``<field>_<date>`` keys, because QGIS can style and
label on flat attributes only.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
import numbers
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shapely.geometry import Point
from shapely.geometry.base import BaseGeometry

from borderwatch.errors import InputError, StoreError
from borderwatch.fileio import write_atomically
from borderwatch.outputs.geo import geojson_geometry
from borderwatch.sites.numbering import SiteNumber, site_label, site_number
from borderwatch.sites.imaged import FULLY_IMAGED_SHARE
from borderwatch.sites.register import FROZEN_SHARE

if TYPE_CHECKING:
    from borderwatch.corridor import Corridor
    from borderwatch.store import Store

#: Marker colours by scale (the KML and the web map share them); candidates are drawn grey and dashed.
#: "active" is a site with fresh traces but no vehicle counts (a run without the detector).
SCALE_COLOURS = {"large": "#8e24aa", "small": "#00897b", "active": "#1e88e5", "inactive": "#8d6e63"}
CANDIDATE_COLOUR = "#9e9e9e"
SCALE_ORDER = ("large", "small", "active", "inactive")
#: What each scale means, for legends.
SCALE_WORDS = {"large": "large-scale traffic", "small": "small-scale traffic",
               "active": "active (no vehicle counts)", "inactive": "no traffic seen (at most a lone or doubtful vehicle)"}

#: Per-date counts copied from an observation (in this order) into flat columns.
COUNT_KEYS = (
    "vehicles",
    "expected_vehicles",  # the vehicles weighed by how likely each is one (sites.belief): what "small" scale rests on
    "small_vehicle",
    "large_vehicle",
    "heavy_equipment",
    "heavy_in_water",
    "vehicles_on_sandbar",
    "parking_vehicles",
    "cargo_vehicles",
    "parking_area_m2",
    "cleared_area_m2",
    "longest_queue",
    "convoy",
)
_SITE_KEYS = ("number", "label", "site_id", "corridor", "chainage_km", "kind", "scale", "bank_evidence", "status",
              "score", "first_seen", "last_seen", "label_given", "numbering_edition")


#: what a candidate is, for a legend (candidate_note says why one site is)
CANDIDATE_MEANING = "evidence on one bank only, or nothing seen at the water"


def candidate_note(site: Mapping[str, Any]) -> str:
    """Why a site is only a candidate, for a reader (sites.cluster.describe decides it)."""
    banks = site.get("bank_evidence")
    if banks == "both":  # traffic or cleared ground on both banks, nothing that crosses (a town facing a town)
        return "vehicles, cleared ground or fence gaps on both banks, but nothing seen at the water (no landing, deck or trace)"
    if banks == "water":
        return "evidence in the river only, no landing seen on either bank"
    return f"evidence on the {banks} bank only"


def site_colour(site: Mapping[str, Any]) -> str:
    """The marker colour of a site: by its scale, grey for a candidate."""
    if site.get("status") == "candidate":
        return CANDIDATE_COLOUR
    return SCALE_COLOURS.get(str(site.get("scale")), CANDIDATE_COLOUR)


# -- reading ----------------------------------------------------------------------


def read_register(store: Store, corridor_name: str, *, within: BaseGeometry | None = None) -> tuple[list[dict], list[dict]]:
    """The stored sites of one register (a river, e.g. ``yalu-upper``) in river order, and their observations.

    ``within`` (lon/lat) keeps the sites whose marker point lies inside it, e.g.
    the area of the stretch a run covered. A site seen again on a date it
    already had keeps only its newest observation for that date, so counts are
    never shown twice.
    """
    sites = store.read_rows("sites", {"corridor": corridor_name})
    for s in sites:
        if s.get("geometry") is None or s["geometry"].is_empty:
            raise StoreError(store.path, f"sites: site {s['site_id']!r} has no geometry")
    if within is not None:
        sites = [s for s in sites if within.covers(anchor_point(s["geometry"]))]
    sites.sort(key=river_order)
    _attach_numbering(store, corridor_name, sites)
    ids = {s["site_id"]: i for i, s in enumerate(sites)}
    newest: dict[tuple[str, str], dict] = {}
    for o in store.read_rows("observations"):  # fid order: later rows replace earlier ones
        if o["site_id"] in ids:
            newest[(o["site_id"], iso_date(o["date"]))] = o
    observations = sorted(newest.values(), key=lambda o: (ids[o["site_id"]], iso_date(o["date"])))
    return sites, observations


def _attach_numbering(store: Store, river: str, sites: list[dict]) -> None:
    """Give each numbered site the edition of the numbering its label belongs to and the date it was given
    (from the ``site_numbers`` ledger), so a published number can be traced to when it was issued."""
    given: dict[tuple[str, str], dict] = {}
    for row in store.read_rows("site_numbers", {"corridor": river}):  # fid order: the latest issue wins
        given[(row["site_id"], row["label"])] = row
    for s in sites:
        row = given.get((s["site_id"], site_label(s) or ""))
        s["numbering_edition"] = row["edition"] if row else None
        s["label_given"] = iso_date(row["created_at"]) if row and row.get("created_at") else None


def corridor_register(store: Store, corridor: Corridor) -> tuple[list[dict], list[dict]]:
    """The register rows on one corridor or stretch (a stretch shares its river's register)."""
    from borderwatch.sites import register_name

    return read_register(store, register_name(corridor), within=corridor.to_lonlat(corridor.area))


def corridors_with_sites(store: Store) -> list[str]:
    """Names of the registers (rivers) the store holds sites for, to tell a user what there is."""
    return sorted({str(s["corridor"]) for s in store.read_rows("sites") if s.get("corridor")})


def analysed_length_km(store: Store, corridor: Corridor) -> float | None:
    """Kilometres of a corridor that the store's runs covered (their stretches merged), or None if none did.

    Sites per km over a whole river would mislead when only a stretch of it was
    analysed; this is the length a register's density refers to.
    """
    # stretches of one line share a name root (yalu-upper[0:3]) and the frame of chainage_offset_km
    river = corridor.name.split("[", 1)[0]
    lo = corridor.chainage_offset_km
    hi = lo + corridor.length_km
    ran = {r["corridor"] for r in store.runs()}
    spans = []
    for c in store.corridors():
        if c["name"] in ran and c["name"].split("[", 1)[0] == river and c.get("length_km"):
            start = float((c.get("params") or {}).get("chainage_offset_km") or 0.0)
            a, b = max(start, lo), min(start + float(c["length_km"]), hi)
            if b > a:
                spans.append((a, b))
    if not spans:
        return None
    total, end = 0.0, -math.inf
    for a, b in sorted(spans):
        if b > end:
            total += b - max(a, end)
            end = b
    return total


def river_order(site: Mapping[str, Any]) -> tuple:
    """Sort key: by chainage from the corridor origin (numbers follow it; candidates have none)."""
    km = _num(site.get("chainage_km"))
    n = site_number(site)
    return (km is None, km if km is not None else 0.0, n is None, n or SiteNumber(0), str(site.get("site_id")))


# -- shaping ----------------------------------------------------------------------


def iso_date(value: Any) -> str | None:
    """A date (or ISO text) as YYYY-MM-DD; None stays None."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return dt.date.fromisoformat(str(value)).isoformat()


def register_dates(observations: Iterable[Mapping[str, Any]]) -> list[str]:
    """Every observed date, oldest first."""
    return sorted({iso_date(o["date"]) for o in observations})


def register_countries(sites: Iterable[Mapping[str, Any]], observations: Iterable[Mapping[str, Any]]) -> list[str]:
    """The countries that direction shares refer to, in the order first met (left bank first, as stored)."""
    seen: dict[str, None] = {}
    for s in sites:
        for c in (s.get("details") or {}).get("countries") or []:
            seen[str(c)] = None
    for o in observations:
        counts = o.get("counts") or {}
        for key in ("toward", "share_toward"):
            for c in counts.get(key) or {}:
                seen[str(c)] = None
    return list(seen)


def observations_by_site(observations: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, Mapping[str, Any]]]:
    """site_id -> ISO date -> observation (the last one given wins)."""
    out: dict[str, dict[str, Mapping[str, Any]]] = {}
    for o in observations:
        out.setdefault(o["site_id"], {})[iso_date(o["date"])] = o
    return out


def observation_values(obs: Mapping[str, Any] | None, countries: Sequence[str]) -> dict[str, Any]:
    """One observation as flat values (counts, toward/share per country, activity, scale, run); all None if absent."""
    counts = dict((obs or {}).get("counts") or {})
    out: dict[str, Any] = {k: _num(counts.get(k)) if obs else None for k in COUNT_KEYS}
    toward = counts.get("toward") or {}
    share = counts.get("share_toward") or {}
    interval = counts.get("share_interval") or {}
    for c in countries:
        out[f"toward_{c}"] = _num(toward.get(c)) if obs else None
        out[f"share_toward_{c}"] = _round(share.get(c), 3) if obs else None
        low_high = interval.get(c) or [None, None]
        out[f"share_low_{c}"] = _round(low_high[0], 3) if obs else None
        out[f"share_high_{c}"] = _round(low_high[1], 3) if obs else None
    basis = counts.get("share_from")  # how many cars / large vehicles the share rests on (older stores: none)
    fronts = counts.get("front_reliability") or {}  # measured on the image's queued vehicles (sites.fronts)
    for cls in ("small_vehicle", "large_vehicle"):
        out[f"share_from_{cls}"] = _num(basis.get(cls)) if obs and basis else None
        out[f"front_factor_{cls}"] = _round((fronts.get(cls) or {}).get("applied"), 3) if obs else None
        out[f"front_pairs_{cls}"] = _num((fronts.get(cls) or {}).get("pairs")) if obs else None
    out["convoy_subclass"] = counts.get("convoy_subclass") if obs else None
    # share of the date's imagery that looks snow-covered (snow, ice or cloud) and whether counts are flagged for it
    out["snow_cover"] = _round(counts.get("snow_cover"), 3) if obs else None
    out["snow_flag"] = counts.get("snow_flag") if obs else None
    out["river_ice"] = _round(counts.get("river_ice"), 3) if obs else None  # share of the river's surface read as ice
    out["counts_withheld"] = counts.get("counts_withheld") if obs else None  # "snow", "river ice": ran, counts unknown
    out["imaged_share"] = _round(counts.get("imaged_share"), 3) if obs else None  # of the site's outline (sites.imaged)
    # the detector(s) that counted the site's vehicles that date (older stores: none recorded)
    out["detectors"] = ", ".join(counts.get("detectors") or []) or None if obs else None
    out["activity_score"] = _round((obs or {}).get("activity_score"), 3)
    out["scale"] = (obs or {}).get("scale")
    out["run_id"] = (obs or {}).get("run_id")
    return out


def jpeg_detector_prefix() -> str:
    """How the name of the detector's JPEG variant begins (its file stem and "@", then its version)."""
    from borderwatch.analysis.detect.runtime import JPEG_MODEL

    return JPEG_MODEL.removesuffix(".onnx") + "@"


def jpeg_variant_counted(detectors: str | None) -> bool:
    """Whether a date's counts came, at least in part, from the detector's JPEG variant (JPEG imagery), given the
    ``detectors`` value of :func:`observation_values`."""
    prefix = jpeg_detector_prefix()
    return any(name.strip().startswith(prefix) for name in (detectors or "").split(","))


def site_properties(
    site: Mapping[str, Any],
    by_date: Mapping[str, Mapping[str, Any]],
    dates: Sequence[str],
    countries: Sequence[str],
) -> dict[str, Any]:
    """A site's attributes: its register fields, then flat ``<field>_<date>`` values for every date."""
    props: dict[str, Any] = {}
    for k in _SITE_KEYS:
        v = site.get(k)
        if k in ("first_seen", "last_seen") and v is not None:
            v = iso_date(v)
        elif k == "chainage_km":
            v = _round(v, 3)
        elif k == "score":
            v = _round(v, 3)
        elif k == "label":
            v = site_label(site)
        props[k] = v
    details = site.get("details") or {}
    span = details.get("span_km") or [None, None]
    props["span_km_start"] = _round(span[0], 3) if len(span) > 0 else None
    props["span_km_end"] = _round(span[1], 3) if len(span) > 1 else None
    props["evidence"] = ", ".join(f"{k} {v}" for k, v in sorted((details.get("evidence") or {}).items()))
    for d in dates:
        for k, v in observation_values(by_date.get(d), countries).items():
            props[f"{k}_{d}"] = v
    return props


def anchor_point(geom: BaseGeometry) -> Point:
    """Where a site's number is drawn: its centroid, or a point inside when the centroid falls outside."""
    c = geom.centroid
    return c if geom.covers(c) else geom.representative_point()


def sites_geojson(
    sites: Sequence[Mapping[str, Any]],
    observations: Sequence[Mapping[str, Any]],
    countries: Sequence[str] | None = None,
) -> dict:
    """The register as a GeoJSON FeatureCollection (RFC 7946, lon/lat), one Polygon feature per site, in river order.

    ``countries`` orders the direction shares (default: as met in the rows).
    The collection also carries ``dates`` and ``countries`` (foreign members)
    so readers need not scan every feature to build columns.
    """
    countries = list(countries) if countries else register_countries(sites, observations)
    dates = register_dates(observations)
    obs = observations_by_site(observations)
    feats = []
    for site in sorted(sites, key=river_order):
        by_date = obs.get(site["site_id"], {})
        props = site_properties(site, by_date, dates, countries)
        props["dates"] = {d: _date_entry(by_date[d]) for d in dates if d in by_date}
        geom = site.get("geometry")
        feats.append({
            "type": "Feature",
            "id": site["site_id"],
            "geometry": geojson_geometry(geom) if geom is not None else None,
            "properties": _clean(props),
        })
    return {
        "type": "FeatureCollection",
        "name": "crossing_sites",
        "dates": dates,
        "countries": countries,
        "features": feats,
    }


def _date_entry(o: Mapping[str, Any]) -> dict[str, Any]:
    entry = dict(o.get("counts") or {})
    entry["activity_score"] = _round(o.get("activity_score"), 3)
    entry["scale"] = o.get("scale")
    entry["run_id"] = o.get("run_id")
    return entry


# -- files ------------------------------------------------------------------------


def _check_suffix(path: Path, suffix: str) -> None:
    if path.suffix.lower() != suffix:
        raise InputError(path, f"expected a {suffix} file name")


def _write_as(path: str | Path, suffix: str, text) -> Path:
    """Check the file name's suffix first (nothing is computed or written for a wrong one), then write atomically."""
    path = Path(path)
    _check_suffix(path, suffix)
    return write_atomically(path, text())


def write_sites_geojson(
    path: str | Path,
    sites: Sequence[Mapping[str, Any]],
    observations: Sequence[Mapping[str, Any]],
    countries: Sequence[str] | None = None,
) -> Path:
    """Write ``sites.geojson`` (see :func:`sites_geojson`) atomically."""
    return _write_as(path, ".geojson", lambda: json.dumps(sites_geojson(sites, observations, countries), ensure_ascii=False, allow_nan=False, indent=1))


def sites_csv(
    sites: Sequence[Mapping[str, Any]],
    observations: Sequence[Mapping[str, Any]],
    countries: Sequence[str] | None = None,
) -> str:
    """The register as CSV text: one row per site in river order, with lon/lat of its marker and flat per-date columns."""
    countries = list(countries) if countries else register_countries(sites, observations)
    dates = register_dates(observations)
    obs = observations_by_site(observations)
    rows = []
    for site in sorted(sites, key=river_order):
        props = site_properties(site, obs.get(site["site_id"], {}), dates, countries)
        geom = site.get("geometry")
        lon = lat = None
        if geom is not None and not geom.is_empty:
            p = anchor_point(geom)
            lon, lat = round(p.x, 6), round(p.y, 6)
        rows.append({**{k: props[k] for k in props if k in _SITE_KEYS}, "lon": lon, "lat": lat,
                     **{k: v for k, v in props.items() if k not in _SITE_KEYS}})
    columns = list(rows[0]) if rows else [*_SITE_KEYS, "lon", "lat"]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for r in rows:
        writer.writerow({k: "" if v is None else v for k, v in _clean(r).items()})
    return buf.getvalue()


def write_sites_csv(
    path: str | Path,
    sites: Sequence[Mapping[str, Any]],
    observations: Sequence[Mapping[str, Any]],
    countries: Sequence[str] | None = None,
) -> Path:
    """Write the register as CSV (see :func:`sites_csv`) atomically."""
    return _write_as(path, ".csv", lambda: sites_csv(sites, observations, countries))


def write_register(
    path: str | Path,
    sites: Sequence[Mapping[str, Any]],
    observations: Sequence[Mapping[str, Any]],
    countries: Sequence[str] | None = None,
) -> Path:
    """Write the register as .csv or .geojson, chosen by the file name."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return write_sites_csv(path, sites, observations, countries)
    if suffix == ".geojson":
        return write_sites_geojson(path, sites, observations, countries)
    raise InputError(path, f"cannot write the register as {suffix or 'a file without an extension'!r} (use .csv or .geojson)")


# -- text -------------------------------------------------------------------------


def format_register(
    sites: Sequence[Mapping[str, Any]],
    observations: Sequence[Mapping[str, Any]],
    summary: Mapping[str, Any] | None,
    countries: Sequence[str] | None = None,
) -> str:
    """The register as a plain-text table in river order, then the corridor summary.

    Per date: vehicles (large/small/heavy), the vehicles seen facing each bank, and the
    share heading toward the first country with its 95 % interval (the rest head toward the other bank);
    ``-`` where a site has no observation on that date. The interval is printed
    because a share alone misleads: at a site of four cars with unclear fronts it
    can read 0.50 while the data allow anything from 0 to 1.
    """
    countries = list(countries) if countries else register_countries(sites, observations)
    dates = register_dates(observations)
    obs = observations_by_site(observations)
    toward_head = f"to {countries[0]} (95 %)" if countries else "direction"
    seen_head = ":".join(countries[:2]) if len(countries) >= 2 else "facing"
    head = ["#", "site", "km", "kind", "scale", "banks", "status"]
    for _ in dates:
        head += ["veh", "L/S/H", seen_head, toward_head]
    rows = []
    any_share = unseen = partial = False
    for site in sorted(sites, key=river_order):
        km = _num(site.get("chainage_km"))
        row = [
            site_label(site) or "-",
            str(site["site_id"]),
            "" if km is None else f"{km:.2f}",
            str(site.get("kind") or ""),
            str(site.get("scale") or ""),
            str(site.get("bank_evidence") or ""),
            str(site.get("status") or ""),
        ]
        for d in dates:
            o = obs.get(site["site_id"], {}).get(d)
            if o is None:
                row += ["-", "", "", ""]
                unseen = True
                continue
            v = observation_values(o, countries)
            lsh = "/".join(_int_text(v[k]) for k in ("large_vehicle", "small_vehicle", "heavy_equipment"))
            share_text = _share_text(v, countries[0]) if countries else "-"
            cut = v["imaged_share"] is not None and v["imaged_share"] < FULLY_IMAGED_SHARE
            partial |= cut
            facing = [v.get(f"toward_{c}") for c in countries[:2]]
            seen = ":".join(_int_text(n) for n in facing) if len(facing) == 2 and None not in facing else "-"
            row += [_int_text(v["vehicles"]) + ("*" if cut else ""), lsh, seen, share_text]
            any_share |= share_text != "-"
        rows.append(row)
    right = {0, 2} | {7 + 4 * i for i in range(len(dates))}
    snowy = _snowy_dates(observations)
    frozen = _frozen_dates(observations)
    iced = _ice_withheld_dates(observations)

    def label(d: str) -> str:
        marks = [m for m, on in (("snow", d in snowy), ("river frozen", d in frozen),
                                 ("river ice", d in iced and d not in frozen)) if on]
        return f"{d} ({', '.join(marks)})" if marks else d

    groups = [(7 + 4 * i, label(d)) for i, d in enumerate(dates)]
    lines = _text_table(head, rows, right, groups)
    if not sites:
        lines = ["no crossing sites"]
    elif any_share:
        others = " and ".join(countries[1:]) or "the other bank"
        lines.append(f"{toward_head}: share of vehicles facing {countries[0]} (the rest face {others}), each weighed by "
                     "how sure its front is, and its 95 % interval: a wide one means too few clear fronts to tell "
                     f"which way the traffic runs. {seen_head}: the vehicles seen facing each bank, as detected, "
                     "before any weighing (at a few vehicles, one missed or turned round moves the share by a "
                     "fifth or more). How many cars / large vehicles it rests on, the front factor "
                     "measured on the image's queued vehicles, and the longest queue and convoy are in the CSV, "
                     "GeoJSON, KML and web map (real fronts are measured for cars only)")
    if sites and unseen:
        lines.append("- under veh: not imaged on that date (the site lies outside that date's analysed imagery): "
                     "not seen, not idle")
    if partial:
        lines.append("*: only part of the site was imaged on that date (its imaged share is in the CSV, GeoJSON, KML "
                     "and web map): counts may be low")
    for d, cover in snowy.items():
        lines.append(f"{d} (snow): {cover:.0%} of that date's imagery looks snow-covered (snow, ice or cloud); the detector "
                     "reports many false cars on snow: its counts are left out (-), or, where kept, not to be read "
                     "against snow-free dates")
    for d, ice in iced.items():
        lines.append(f"{d}: {ice:.0%} of the river's surface is ice; the detector reads ice floes and the ice edge as "
                     "vehicles: its counts are left out (-)")
    if summary:
        lines += ["", *summary_lines(summary)]
    return "\n".join(lines)


def _share_text(values: Mapping[str, Any], country: str) -> str:
    """'0.75 (0.42-0.95)': the share toward ``country`` and its 95 % interval ('-' without a share)."""
    share = values[f"share_toward_{country}"]
    if share is None:
        return "-"
    low, high = values[f"share_low_{country}"], values[f"share_high_{country}"]
    return f"{share:.2f}" if low is None or high is None else f"{share:.2f} ({low:.2f}-{high:.2f})"


def _frozen_dates(observations: Iterable[Mapping[str, Any]]) -> set[str]:
    """ISO dates whose river surface the land cover read as mostly ice (sites.register.FROZEN_SHARE)."""
    return {iso_date(o["date"]) for o in observations if ((o.get("counts") or {}).get("river_ice") or 0.0) >= FROZEN_SHARE}


def _ice_withheld_dates(observations: Iterable[Mapping[str, Any]]) -> dict[str, float]:
    """ISO date -> river ice share, for dates whose counts the register left out for river ice (sites.register)."""
    out: dict[str, float] = {}
    for o in observations:
        c = o.get("counts") or {}
        if "river ice" in str(c.get("counts_withheld") or ""):
            out[iso_date(o["date"])] = float(c.get("river_ice") or 0.0)
    return dict(sorted(out.items()))


def _snowy_dates(observations: Iterable[Mapping[str, Any]]) -> dict[str, float]:
    """ISO date -> snow cover, for dates the register flagged as snowy (sites.register)."""
    out: dict[str, float] = {}
    for o in observations:
        c = o.get("counts") or {}
        if c.get("snow_flag"):
            d = iso_date(o["date"])
            out[d] = max(out.get(d, 0.0), float(c.get("snow_cover") or 0.0))
    return dict(sorted(out.items()))


def summary_lines(summary: Mapping[str, Any]) -> list[str]:
    """The corridor summary in words: counts, density, and the split by scale and kind."""
    n, cand = summary.get("sites"), summary.get("candidates")
    length, per_km, km_per = summary.get("length_km"), summary.get("sites_per_km"), summary.get("km_per_site")
    first = f"{summary.get('corridor', '')}: {n} site(s)"
    if cand is not None:
        first += f" and {cand} candidate(s)"
    if length is not None:
        first += f" over {float(length):.1f} km"
    density = []
    if per_km is not None:
        density.append(f"{float(per_km):.2f} sites/km")
    if km_per is not None and _num(km_per) is not None:
        density.append(f"one every {float(km_per):.1f} km")
    if density:
        first += " (" + ", ".join(density) + ")"
    lines = [first.strip(": ")]
    by_scale = summary.get("by_scale") or {}
    if by_scale:
        keys = [k for k in SCALE_ORDER if k in by_scale] + sorted(k for k in by_scale if k not in SCALE_ORDER)
        lines.append("by scale: " + ", ".join(f"{k} {by_scale[k]}" for k in keys))
    by_kind = summary.get("by_kind") or {}
    if by_kind:
        lines.append("by kind: " + ", ".join(f"{k} {v}" for k, v in sorted(by_kind.items(), key=lambda kv: (-kv[1], kv[0]))))
    trend = summary.get("trend") or {}
    if len(trend) > 1:  # the trend: compare dates over the sites each one imaged
        lines.append("by date (confirmed sites):")
        lines += [f"  {d}: {_trend_text(t, (summary.get('by_date') or {}).get(d) or {})}" for d, t in trend.items()]
    return lines


def _trend_text(t: Mapping[str, Any], scales: Mapping[str, int]) -> str:
    """'3 of 4 imaged (1 partly); large 1, small 2; vehicles 29 (large 9, heavy equipment 2, small 18)'."""
    text = f"{t.get('imaged')} of {t.get('sites')} imaged"
    if t.get("partly_imaged"):
        text += f" ({t['partly_imaged']} partly)"
    keys = [k for k in SCALE_ORDER if scales.get(k)] + sorted(k for k in scales if k not in SCALE_ORDER and scales[k])
    if keys:
        text += "; " + ", ".join(f"{k} {scales[k]}" for k in keys)
    if t.get("counts_withheld"):
        text += f"; vehicle counts left out ({t['counts_withheld']})"
    elif t.get("vehicles") is not None:
        text += (f"; vehicles {t['vehicles']} (large {t.get('large_vehicle')}, heavy equipment "
                 f"{t.get('heavy_equipment')}, small {t.get('small_vehicle')})")
    return text


def _text_table(head: list[str], rows: list[list[str]], right: set[int], groups: list[tuple[int, str]]) -> list[str]:
    """Aligned columns; ``groups`` put a label (a date) above the columns from a given index on."""
    width = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    for k, (start, label) in enumerate(groups):  # a group at least as wide as its label
        end = groups[k + 1][0] if k + 1 < len(groups) else len(head)
        span = sum(width[start:end]) + 2 * (end - start - 1)
        if span < len(label):
            width[end - 1] += len(label) - span
    lines = []
    if groups:
        top = ""
        for start, label in groups:
            col = sum(width[:start]) + 2 * start
            top = top.ljust(col) + label
        lines.append(top)
    for r in [head, *rows]:
        lines.append("  ".join(c.rjust(width[i]) if i in right else c.ljust(width[i]) for i, c in enumerate(r)).rstrip())
    return lines


# -- values -----------------------------------------------------------------------


def _num(v: Any) -> float | int | None:
    """A finite number (ints stay ints, so counts print as 3 not 3.0), else None."""
    if v is None or isinstance(v, bool):
        return None
    if isinstance(v, numbers.Integral):
        return int(v)
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _round(v: Any, nd: int) -> float | None:
    f = _num(v)
    return None if f is None else round(float(f), nd)


def _int_text(v: Any) -> str:
    f = _num(v)
    return "-" if f is None else f"{f:g}"


def _clean(value: Any) -> Any:
    """JSON-safe copy: NaN/inf become null, numpy scalars plain numbers, dates ISO text."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (dt.date, dt.datetime)):
        return iso_date(value)
    return value
