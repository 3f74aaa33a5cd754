"""The offline web map: one index.html that opens from file:// with no network.

Leaflet (bundled in ``web/static/leaflet``) and the page script are copied next
to the page; every vector layer is embedded inline as GeoJSON, because
``fetch()`` of local files fails under file://. Imagery is one PNG per date
(see :func:`borderwatch.outputs.overview.render_overlay`), referenced by a
relative path, which ``<img>`` loads fine from file://. There is no base map:
tiles would need the internet.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import re
import shutil
from collections.abc import Iterable, Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from shapely.geometry import LineString, Point, shape

from borderwatch.corridor import Corridor
from borderwatch.errors import InputError
from borderwatch.imagery.scene import Scene
from borderwatch.outputs.geo import feature, feature_collection, scene_footprint
from borderwatch.outputs.kml import TICK_HALF_M, chainage_marks, place_in_stretch
from borderwatch.outputs.overview import ImageOverlay
from borderwatch.fileio import write_atomically
from borderwatch.outputs.sites import (
    CANDIDATE_COLOUR,
    CANDIDATE_MEANING,
    SCALE_COLOURS,
    SCALE_WORDS,
    anchor_point,
    candidate_note,
    jpeg_detector_prefix,
    summary_lines,
)
from borderwatch.outputs.style import country_colour
from borderwatch.sites.imaged import FULLY_IMAGED_SHARE

LEAFLET_VERSION = "1.9.4"

#: {"title": str, "columns": [str], "rows": [[value]]}: a table shown as text on the page.
SummaryTable = dict

#: (layer name, GeoJSON dict, Leaflet path style dict), e.g. detections or sites from later stages.
ExtraLayer = tuple[str, dict, dict]
#: An overlay as built by ``build_overlays``, or (label or date, png path, (west, south, east, north)).
OverlayLike = ImageOverlay | tuple[str | dt.date, str | Path, tuple[float, float, float, float]]

CORRIDOR_COLOUR = "#1f4fff"
TICK_COLOUR = "#202020"
FOOTPRINT_COLOUR = "#ff8c00"
PLACE_COLOUR = "#ffffff"
PLACE_OUTSIDE_COLOUR = "#9a9a9a"


def write_web_map(
    out_dir: str | Path,
    corridor: Corridor,
    scenes: Iterable[Scene],
    overlays: Sequence[OverlayLike],
    *,
    title: str,
    extra_layers: Sequence[ExtraLayer] | None = None,
    tables: Sequence[SummaryTable] | None = None,
    tick_km: float = 1.0,
    sites: Mapping[str, Any] | None = None,
    site_summary: Mapping[str, Any] | None = None,
) -> Path:
    """Write ``out_dir/index.html`` with its Leaflet copy and imagery; return the page's path.

    ``tables`` are shown as text in a panel (e.g. counts by class per km).
    ``sites`` is the register's GeoJSON (:func:`borderwatch.outputs.sites.sites_geojson`):
    numbered markers, a popup per site and a table in river order, with
    ``site_summary`` (:func:`borderwatch.sites.summarise`) printed above it.
    """
    if not (isinstance(tick_km, (int, float)) and tick_km > 0):
        raise InputError("tick_km", f"chainage tick spacing must be a positive number of km, got {tick_km!r}")
    out_dir = Path(out_dir)
    scenes = list(scenes)
    extras = _check_extra_layers(extra_layers or [])
    site_data = _sites_data(sites, site_summary) if sites is not None else None
    ovs = [_as_overlay(o) for o in overlays]
    for o in ovs:
        if not o.png.is_file():
            raise InputError(o.png, "overlay image does not exist")

    out_dir.mkdir(parents=True, exist_ok=True)
    _copy_static(out_dir / "lib")
    imagery = []
    seen: set[str] = set()
    for o in ovs:
        url = _place_image(o.png, out_dir)
        label = _unique(o.label, seen)
        w, s, e, n = o.bounds_lonlat
        imagery.append(
            {"label": label, "url": url, "bounds": [[s, w], [n, e]], "provider": o.provider, "licence": o.licence}
        )

    data = {
        "title": title,
        "corridor": corridor.describe(),
        "layers": _corridor_layers(corridor, scenes, tick_km),
        "tick_km": tick_km,
        "imagery": imagery,
        "extra": [{"name": n, "geojson": g, "style": st} for n, g, st in extras],
        "tables": [_check_table(t) for t in (tables or [])],
        "sites": site_data,
        "attribution": _attribution(corridor, scenes, ovs),
        "legend": _legend(corridor, extras, site_data),
    }
    page = _PAGE.format(
        title=html.escape(title),
        heading=html.escape(title),
        sub=html.escape(
            f"{corridor.name}: {corridor.length_km:.1f} km from {corridor.origin_name}; "
            f"{corridor.left_country} left bank, {corridor.right_country} right bank"
        ),
        data=_script_json(data),
        leaflet=LEAFLET_VERSION,
    )
    return write_atomically(out_dir / "index.html", page)


# -- data -----------------------------------------------------------------------


def _corridor_layers(c: Corridor, scenes: list[Scene], tick_km: float) -> dict:
    line = feature(c.line_lonlat, name=c.name, length_km=round(c.length_km, 3), origin=c.origin_name)
    banks = [
        feature(c.to_lonlat(c.left_bank), country=c.left_country, side="left", colour=country_colour(c.left_country, "left"),
                width_m=c.left_width_m),
        feature(c.to_lonlat(c.right_bank), country=c.right_country, side="right",
                colour=country_colour(c.right_country, "right"), width_m=c.right_width_m),
    ]
    ticks = []
    for km in chainage_marks(c.length_km, tick_km):
        a, b = c.point_at(km, TICK_HALF_M), c.point_at(km, -TICK_HALF_M)
        label = f"km {km:g}"
        ticks.append(feature(c.to_lonlat(LineString([a, b])), km=km, label=label))
        ticks.append(feature(c.to_lonlat(a), km=km, label=label))
    places = []
    for p in c.places:
        inside = place_in_stretch(p.chainage_km, c.length_km)
        places.append(
            feature(
                Point(p.lon, p.lat), name=p.name, chainage_km=round(p.chainage_km, 2), offset_m=round(p.offset_m),
                country=p.country, inside=inside, source=p.source, licence=p.licence,
            )
        )
    footprints = []
    for s in sorted(scenes, key=lambda s: (s.capture_date, s.scene_id)):
        footprints.append(
            feature(
                scene_footprint(s), date=s.capture_date.isoformat(), provider=s.provider, sensor=s.sensor,
                gsd_m=s.gsd_m, licence=s.licence, scene_id=s.scene_id, sha256=s.sha256, file=Path(s.path).name,
            )
        )
    return {
        "corridor": feature_collection([line]),
        "banks": feature_collection(banks),
        "ticks": feature_collection(ticks),
        "places": feature_collection(places),
        "footprints": feature_collection(footprints),
    }


def _attribution(c: Corridor, scenes: list[Scene], ovs: list[ImageOverlay]) -> list[str]:
    parts = [a.strip() for a in c.attribution.split(";") if a.strip()]
    imagery: dict[str, None] = {}
    for s in scenes:
        imagery[f"Imagery {s.provider}: {s.licence or 'licence not recorded'}"] = None
    for o in ovs:
        if o.provider or o.licence:
            imagery[f"Imagery {o.provider or o.label}: {o.licence or 'licence not recorded'}"] = None
    return parts + list(imagery)


_PER_DATE_KEY = re.compile(r"_\d{4}-\d{2}-\d{2}$")


def _sites_data(fc: Mapping[str, Any], summary: Mapping[str, Any] | None) -> dict:
    """The register for the page: features with a marker anchor, without the flat per-date copies (kept in ``dates``)."""
    if not isinstance(fc, Mapping) or fc.get("type") != "FeatureCollection" or not isinstance(fc.get("features"), list):
        raise InputError("sites", "must be a GeoJSON FeatureCollection (from sites_geojson)")
    feats = []
    for i, f in enumerate(fc["features"]):
        props = dict(f.get("properties") or {})
        if "number" not in props or "site_id" not in props or not f.get("geometry"):
            raise InputError(f"sites[{i}]", "a site needs a geometry, 'number' and 'site_id'")
        pt = anchor_point(shape(f["geometry"]))
        feats.append({
            "type": "Feature",
            "geometry": f["geometry"],
            "anchor": [round(pt.y, 6), round(pt.x, 6)],
            "properties": {k: v for k, v in props.items() if not _PER_DATE_KEY.search(k)}
            | ({"candidate_note": candidate_note(props)} if props.get("status") == "candidate" else {}),
        })
    dates = fc.get("dates") or sorted({d for f in feats for d in (f["properties"].get("dates") or {})})
    countries = fc.get("countries") or sorted(
        {c for f in feats for o in (f["properties"].get("dates") or {}).values() for c in (o.get("toward") or {})}
    )
    n_cand = sum(f["properties"].get("status") == "candidate" for f in feats)
    return {
        "name": f"Crossing sites ({len(feats) - n_cand} + {n_cand} candidates)" if n_cand else f"Crossing sites ({len(feats)})",
        "dates": list(dates),
        "countries": list(countries),
        "colours": dict(SCALE_COLOURS),
        "candidate_colour": CANDIDATE_COLOUR,
        "fully_imaged": FULLY_IMAGED_SHARE,  # below it a date's counts at a site are marked as possibly low
        "jpeg_detector": jpeg_detector_prefix(),  # counts by the JPEG variant: direction shares less reliable
        "summary": summary_lines(summary) if summary else [],
        "features": feats,
    }


def _legend(c: Corridor, extras: list[ExtraLayer], sites: dict | None = None) -> list[dict]:
    items = [
        {"label": f"River line ({c.name})", "colour": CORRIDOR_COLOUR, "kind": "line"},
        {"label": f"{c.left_country} bank strip", "colour": country_colour(c.left_country, "left"), "kind": "fill"},
        {"label": f"{c.right_country} bank strip", "colour": country_colour(c.right_country, "right"), "kind": "fill"},
        {"label": "Chainage tick (km from origin)", "colour": TICK_COLOUR, "kind": "line"},
        {"label": "Place", "colour": PLACE_COLOUR, "kind": "point"},
        {"label": "Place outside this stretch", "colour": PLACE_OUTSIDE_COLOUR, "kind": "point"},
        {"label": "Scene footprint", "colour": FOOTPRINT_COLOUR, "kind": "outline"},
    ]
    for name, _, style in extras:
        items.append({"label": name, "colour": str(style.get("color", "#3388ff")), "kind": "point"})
    if sites is not None:  # only the kinds of marker the map shows
        shown = {f["properties"].get("scale") for f in sites["features"] if f["properties"].get("status") != "candidate"}
        for scale, colour in sites["colours"].items():
            if scale not in shown:
                continue
            items.append({"label": f"Crossing site, {SCALE_WORDS.get(scale, scale)} (numbered in river order)",
                          "colour": colour, "kind": "site"})
        if any(f["properties"].get("status") == "candidate" for f in sites["features"]):
            items.append({"label": f"Candidate site ({CANDIDATE_MEANING})", "colour": sites["candidate_colour"],
                          "kind": "site-candidate"})
    return items


def _check_table(t: SummaryTable) -> dict:
    if not (isinstance(t, dict) and {"title", "columns", "rows"} <= set(t)):
        raise InputError("tables", "each table needs 'title', 'columns' and 'rows'")
    width = len(t["columns"])
    for r in t["rows"]:
        if len(r) != width:
            raise InputError(t["title"], f"a row has {len(r)} cells for {width} columns")
    return {"title": str(t["title"]), "columns": [str(c) for c in t["columns"]], "rows": [[str(v) for v in r] for r in t["rows"]]}


def _check_extra_layers(layers: Sequence) -> list[ExtraLayer]:
    out = []
    for i, item in enumerate(layers):
        if not (isinstance(item, (tuple, list)) and len(item) == 3):
            raise InputError(f"extra_layers[{i}]", "must be (name, GeoJSON dict, style dict)")
        name, gj, style = item
        if not isinstance(name, str) or not name:
            raise InputError(f"extra_layers[{i}]", "layer name must be a non-empty string")
        if not isinstance(gj, dict) or gj.get("type") not in ("FeatureCollection", "Feature") and "coordinates" not in gj:
            raise InputError(name, "extra layer must be a GeoJSON FeatureCollection, Feature or geometry dict")
        if not isinstance(style, dict):
            raise InputError(name, "extra layer style must be a dict of Leaflet path options")
        out.append((name, gj, style))
    return out


def _as_overlay(o: OverlayLike) -> ImageOverlay:
    if isinstance(o, ImageOverlay):
        return o
    try:
        label, png, bounds = o
        w, s, e, n = (float(v) for v in bounds)
    except (TypeError, ValueError):
        raise InputError(str(o)[:80], "overlay must be an ImageOverlay or (label, png, (west, south, east, north))") from None
    if not (w < e and s < n):
        raise InputError(str(png), f"overlay bounds must be (west, south, east, north), got {bounds!r}")
    if isinstance(label, dt.date):
        return ImageOverlay(label.isoformat(), Path(png), (w, s, e, n), label)
    return ImageOverlay(str(label), Path(png), (w, s, e, n))


# -- files ----------------------------------------------------------------------


def _copy_static(dest: Path) -> None:
    """Copy the bundled Leaflet and the page script/style next to the page."""
    root = resources.files("borderwatch.web") / "static"

    def copy(node, to: Path) -> None:
        if node.is_dir():
            to.mkdir(parents=True, exist_ok=True)
            for child in node.iterdir():
                if child.name != "__pycache__":
                    copy(child, to / child.name)
        else:
            to.write_bytes(node.read_bytes())

    copy(root, dest)


def _place_image(png: Path, out_dir: Path) -> str:
    """The page-relative URL of an overlay image, copying it under ``imagery/`` when outside the page folder."""
    png = png.resolve()
    base = out_dir.resolve()
    if not png.is_relative_to(base):
        target = base / "imagery" / png.name
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists() and target.resolve() != png and target.read_bytes() != png.read_bytes():
            target = target.with_name(f"{png.stem}-{abs(hash(str(png))) % 10**8}{png.suffix}")
        shutil.copyfile(png, target)
        png = target
    return png.relative_to(base).as_posix()


def _unique(label: str, seen: set[str]) -> str:
    out, i = label, 2
    while out in seen:
        out, i = f"{label} ({i})", i + 1
    seen.add(out)
    return out


def _script_json(data: dict) -> str:
    """JSON safe inside <script>: no '<', '>' or '&' can end the element early."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return re.sub(r"[<>&\u2028\u2029]", lambda m: "\\u%04x" % ord(m.group(0)), text)


_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="icon" href="data:,">
<!-- Leaflet {leaflet}, bundled (BSD-2-Clause, see lib/leaflet/LICENSE) -->
<link rel="stylesheet" href="lib/leaflet/leaflet.css">
<link rel="stylesheet" href="lib/borderwatch-map.css">
</head>
<body>
<header id="bw-header"><h1>{heading}</h1><p>{sub}</p></header>
<div id="map"></div>
<script type="application/json" id="bw-data">{data}</script>
<script src="lib/leaflet/leaflet.js"></script>
<script src="lib/borderwatch-map.js"></script>
</body>
</html>
"""
