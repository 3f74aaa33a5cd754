"""Google Earth KML/KMZ of a corridor: the first file a journalist opens.

Written with lxml directly (not simplekml) so element order follows the OGC
KML 2.2 schema exactly; the tests validate the output against the XSDs that
ship in the fastkml wheel. Coordinates are lon,lat (EPSG:4326).
"""

from __future__ import annotations

import datetime as dt
import html
import math
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from lxml import etree
from shapely.geometry import GeometryCollection, LineString, Point, Polygon
from shapely.geometry.base import BaseGeometry

from borderwatch.analysis.crossings.evidence import KINDS
from borderwatch.corridor import Corridor
from borderwatch.errors import InputError
from borderwatch.fileio import write_atomically
from borderwatch.imagery.scene import Scene
from borderwatch.outputs.geo import scene_footprint
from borderwatch.outputs.sites import (
    CANDIDATE_COLOUR,
    CANDIDATE_MEANING,
    SCALE_COLOURS,
    anchor_point,
    candidate_note,
    iso_date,
    jpeg_variant_counted,
    observation_values,
    observations_by_site,
    register_countries,
    register_dates,
    river_order,
)
from borderwatch.outputs.style import country_colour, kml_colour
from borderwatch.sites.numbering import site_label
from borderwatch.sites.imaged import FULLY_IMAGED_SHARE
from borderwatch.sites.register import FROZEN_SHARE

KML_NS = "http://www.opengis.net/kml/2.2"
_K = "{%s}" % KML_NS

#: Half-length of a chainage tick (m): long enough to cross the river, short enough not to clutter.
TICK_HALF_M = 250.0


def write_corridor_kml(
    corridor: Corridor,
    path: str | Path,
    *,
    scenes: Iterable[Scene] = (),
    tick_km: float = 1.0,
    sites: Sequence[Mapping[str, Any]] = (),
    observations: Sequence[Mapping[str, Any]] = (),
    evidence: Sequence[Mapping[str, Any]] = (),
) -> Path:
    """Write the corridor (line, bank strips, km ticks, places, crossing sites and evidence, scene footprints) as KML 2.2."""
    doc = corridor_kml_document(corridor, scenes=scenes, tick_km=tick_km, sites=sites, observations=observations, evidence=evidence)
    return write_atomically(path, doc)


def write_kmz(
    corridor: Corridor,
    path: str | Path,
    *,
    scenes: Iterable[Scene] = (),
    tick_km: float = 1.0,
    sites: Sequence[Mapping[str, Any]] = (),
    observations: Sequence[Mapping[str, Any]] = (),
    evidence: Sequence[Mapping[str, Any]] = (),
) -> Path:
    """The same document zipped as KMZ (``doc.kml`` inside), smaller to email."""
    doc = corridor_kml_document(corridor, scenes=scenes, tick_km=tick_km, sites=sites, observations=observations, evidence=evidence)

    def write(tmp: Path) -> None:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("doc.kml", doc)

    return write_atomically(path, write)


def corridor_kml_document(
    corridor: Corridor,
    *,
    scenes: Iterable[Scene] = (),
    tick_km: float = 1.0,
    sites: Sequence[Mapping[str, Any]] = (),
    observations: Sequence[Mapping[str, Any]] = (),
    evidence: Sequence[Mapping[str, Any]] = (),
) -> bytes:
    """The KML document as UTF-8 bytes (what the writers store).

    ``sites``/``observations`` are stored register rows (see
    :func:`borderwatch.outputs.sites.read_register`); with them the document
    gets a "Crossing sites" folder of numbered placemarks. ``evidence`` (stored
    evidence rows) adds a "Crossing evidence" folder, one placemark per piece with
    its date on the time slider, so a reviewer can check each site's reasons by eye.
    """
    if not (isinstance(tick_km, (int, float)) and math.isfinite(tick_km) and tick_km > 0):
        raise InputError("tick_km", f"chainage tick spacing must be a positive number of km, got {tick_km!r}")
    scenes = list(scenes)
    root = etree.Element(_K + "kml", nsmap={None: KML_NS})
    doc = _sub(root, "Document")
    _text(doc, "name", f"borderwatch: {corridor.name}")
    _text(doc, "open", "1")
    _cdata(doc, "description", _corridor_html(corridor))
    _styles(doc, corridor, with_sites=bool(sites), with_evidence=bool(evidence))

    # corridor line
    folder = _folder(doc, "Corridor")
    pm = _placemark(folder, corridor.name, _corridor_html(corridor), "#corridor")
    _geometry(pm, corridor.line_lonlat)

    # bank strips
    folder = _folder(doc, "Banks")
    for side, country, poly, width in (
        ("left", corridor.left_country, corridor.left_bank, corridor.left_width_m),
        ("right", corridor.right_country, corridor.right_bank, corridor.right_width_m),
    ):
        desc = (
            f"<b>{_e(country)}</b> bank ({side} of the direction of travel from {_e(corridor.origin_name)})"
            f"<br/>strip width {width:g} m"
        )
        pm = _placemark(folder, f"{country} bank", desc, f"#bank-{side}")
        _geometry(pm, corridor.to_lonlat(poly))

    # chainage ticks
    folder = _folder(doc, f"Chainage (every {tick_km:g} km)")
    for km in chainage_marks(corridor.length_km, tick_km):
        label = f"km {_fmt_km(km)}"
        desc = f"{_fmt_km(km)} km along the river from {_e(corridor.origin_name)}"
        tick = LineString(
            [corridor.point_at(km, TICK_HALF_M), corridor.point_at(km, -TICK_HALF_M)]
        )
        pm = _placemark(folder, label + " tick", desc, "#tick")
        _geometry(pm, corridor.to_lonlat(tick))
        pm = _placemark(folder, label, desc, "#tick-label")
        _geometry(pm, corridor.to_lonlat(corridor.point_at(km, TICK_HALF_M)))

    # places
    folder = _folder(doc, "Places")
    for p in corridor.places:
        inside = place_in_stretch(p.chainage_km, corridor.length_km)
        name = p.name if inside else f"{p.name} (outside this stretch)"
        desc = (
            f"chainage {p.chainage_km:.2f} km from {_e(corridor.origin_name)}"
            f"{'' if inside else ' (outside this stretch)'}<br/>"
            f"{abs(p.offset_m):.0f} m from the line on the {_e(p.country)} bank<br/>"
            f"source: {_e(p.source)}; licence: {_e(p.licence)}"
        )
        pm = _placemark(folder, name, desc, "#place" if inside else "#place-outside")
        _geometry(pm, Point(p.lon, p.lat))

    if sites:
        _site_folder(doc, corridor, sites, observations)
    if evidence:
        _evidence_folder(doc, evidence)

    # scene footprints, with TimeStamp for Google Earth's time slider
    if scenes:
        folder = _folder(doc, "Scene footprints")
        for s in sorted(scenes, key=lambda s: (s.capture_date, s.scene_id)):
            geom = scene_footprint(s)
            desc = (
                f"captured {s.capture_date.isoformat()} (date from {_e(s.date_source)})<br/>"
                f"provider: {_e(s.provider)}; sensor: {_e(s.sensor)}; {s.gsd_m:g} m/pixel<br/>"
                f"licence: {_e(s.licence or 'not recorded')}<br/>"
                f"file: {_e(Path(s.path).name)}<br/>sha256: {_e(s.sha256)}"
            )
            pm = _placemark(
                folder, f"{s.capture_date.isoformat()} {s.provider} {s.scene_id}", desc, "#footprint", when=s.capture_date
            )
            _geometry(pm, geom)

    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def chainage_marks(length_km: float, tick_km: float) -> list[float]:
    """Chainages 0, tick, 2*tick ... up to the end of the line (inclusive within 1 mm)."""
    n = int(math.floor(length_km / tick_km + 1e-6))
    return [round(i * tick_km, 6) for i in range(n + 1)]


def place_in_stretch(chainage_km: float, length_km: float) -> bool:
    """Whether a place's chainage lies on this stretch (10 m tolerance at the ends)."""
    return not math.isnan(chainage_km) and -0.01 <= chainage_km <= length_km + 0.01


# -- helpers --------------------------------------------------------------------


def _e(s: object) -> str:
    return html.escape(str(s), quote=False)


def _fmt_km(km: float) -> str:
    return f"{km:g}"


def _corridor_html(c: Corridor) -> str:
    return (
        f"<b>{_e(c.name)}</b><br/>"
        f"length {c.length_km:.2f} km from {_e(c.origin_name)}<br/>"
        f"left bank: {_e(c.left_country)}, right bank: {_e(c.right_country)} (looking along the line)<br/>"
        f"source: {_e(c.source)}<br/>"
        f"{_e(c.attribution)}"
    )


def _sub(parent: etree._Element, tag: str) -> etree._Element:
    return etree.SubElement(parent, _K + tag)


def _text(parent: etree._Element, tag: str, text: str) -> etree._Element:
    el = _sub(parent, tag)
    el.text = text
    return el


def _cdata(parent: etree._Element, tag: str, text: str) -> etree._Element:
    el = _sub(parent, tag)
    el.text = etree.CDATA(text)
    return el


def _folder(doc: etree._Element, name: str) -> etree._Element:
    f = _sub(doc, "Folder")
    _text(f, "name", name)
    return f


def _placemark(
    parent: etree._Element, name: str, description: str, style: str, when: dt.date | None = None
) -> etree._Element:
    # schema order: name, description, TimeStamp, styleUrl, then the geometry
    pm = _sub(parent, "Placemark")
    _text(pm, "name", name)
    _cdata(pm, "description", description)
    if when is not None:
        ts = _sub(pm, "TimeStamp")
        _text(ts, "when", when.isoformat())
    _text(pm, "styleUrl", style)
    return pm


def _coords(seq: Sequence) -> str:
    return " ".join(f"{x:.7f},{y:.7f}" for x, y, *_ in seq)


def _geometry(parent: etree._Element, geom: BaseGeometry) -> None:
    """Append a KML geometry for a shapely geometry already in lon/lat."""
    if isinstance(geom, Point):
        pt = _sub(parent, "Point")
        _text(pt, "coordinates", _coords(geom.coords))
    elif isinstance(geom, LineString):
        ls = _sub(parent, "LineString")
        _text(ls, "tessellate", "1")
        _text(ls, "coordinates", _coords(geom.coords))
    elif isinstance(geom, Polygon):
        pg = _sub(parent, "Polygon")
        _text(pg, "tessellate", "1")
        ring = _sub(_sub(pg, "outerBoundaryIs"), "LinearRing")
        _text(ring, "coordinates", _coords(geom.exterior.coords))
        for interior in geom.interiors:
            ring = _sub(_sub(pg, "innerBoundaryIs"), "LinearRing")
            _text(ring, "coordinates", _coords(interior.coords))
    elif hasattr(geom, "geoms"):
        parts = [g for g in geom.geoms if not g.is_empty]
        if len(parts) == 1:
            _geometry(parent, parts[0])
            return
        mg = _sub(parent, "MultiGeometry")
        for g in parts:
            _geometry(mg, g)
    else:  # pragma: no cover - shapely has no other types
        raise InputError(None, f"cannot write a {geom.geom_type} to KML")


def _site_folder(
    doc: etree._Element, c: Corridor, sites: Sequence[Mapping[str, Any]], observations: Sequence[Mapping[str, Any]]
) -> None:
    """One placemark per site, named by its number: a pin (where Google Earth shows the number) and the site's area.

    Candidates carry no number (numbers count confirmed sites); they are named
    "candidate km N" and drawn as grey hollow diamonds.
    """
    countries = [x for x in (c.left_country, c.right_country) if x]
    countries += [x for x in register_countries(sites, observations) if x not in countries]
    dates = register_dates(observations)
    obs = observations_by_site(observations)
    ordered = sorted(sites, key=river_order)
    n_cand = sum(s.get("status") == "candidate" for s in ordered)
    folder = _folder(doc, "Crossing sites")
    river = ordered[0].get("corridor") or c.name
    _cdata(folder, "description", (
        f"{len(ordered) - n_cand} site(s), numbered in river order along {_e(river)}, and {n_cand} candidate(s) "
        f"(grey diamonds, unnumbered: {CANDIDATE_MEANING})"
    ))
    for site in ordered:
        geom = site.get("geometry")
        if geom is None or geom.is_empty:
            raise InputError(str(site.get("site_id")), "crossing site has no geometry")
        style = "#site-candidate" if site.get("status") == "candidate" else f"#site-{_style_scale(site.get('scale'))}"
        desc = _site_html(c, site, obs.get(site["site_id"], {}), dates, countries)
        km = _finite(site.get("chainage_km"))
        name = site_label(site) or (f"candidate km {km:.1f}" if km is not None else "candidate")
        pm = _placemark(folder, name, desc, style)
        _geometry(pm, GeometryCollection([anchor_point(geom), geom]))


def _evidence_folder(doc: etree._Element, evidence: Sequence[Mapping[str, Any]]) -> None:
    """One placemark per piece of evidence (outline or line), in river order, dated for the time slider."""
    folder = _folder(doc, "Crossing evidence")
    _cdata(folder, "description", f"{len(evidence)} piece(s) of crossing evidence behind the sites (kind, score, date, scene, run)")
    for r in sorted(evidence, key=lambda r: (float(r.get("chainage_km") or 0.0), str(r["date"]))):
        details = {k: v for k, v in (r.get("details") or {}).items() if not k.endswith("_lonlat")}
        desc = (
            f"<b>{_e(r['kind'])}</b>: {_e(KINDS.get(r['kind'], ''))}<br/>score {float(r['score'] or 0):.2f}; "
            f"{_e(r.get('country') or '')} bank; chainage {float(r.get('chainage_km') or 0):.3f} km<br/>"
            f"date {_e(r['date'])}; scene {_e(r.get('scene_id'))}; tile {_e(r.get('tile_id'))}; run {_e(r.get('run_id'))}<br/>"
            + "; ".join(f"{_e(k)} {_e(v)}" for k, v in sorted(details.items()))
        )
        date = r["date"] if isinstance(r["date"], dt.date) else dt.date.fromisoformat(str(r["date"]))
        pm = _placemark(folder, str(r["kind"]).replace("_", " "), desc, "#evidence", when=date)
        _geometry(pm, r["geometry"])


def _finite(v: Any) -> float | None:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) else None


def _style_scale(scale: Any) -> str:
    return scale if scale in SCALE_COLOURS else "inactive"


def _site_html(
    c: Corridor, site: Mapping[str, Any], by_date: Mapping[str, Mapping[str, Any]], dates: Sequence[str], countries: Sequence[str]
) -> str:
    num = site_label(site)
    if site.get("status") == "candidate":
        head = f"<b>Candidate crossing site</b>: {_e(candidate_note(site))}"
    else:
        head = f"<b>Crossing site {_e(num if num is not None else '(unnumbered)')}</b>"
    details = site.get("details") or {}
    span = [_finite(x) for x in details.get("span_km") or []]
    km, score = _finite(site.get("chainage_km")), _finite(site.get("score"))
    where = "km: not recorded" if km is None else f"km {km:.2f} along {_e(site.get('corridor') or c.name)}"
    if km is not None and len(span) == 2 and None not in span:
        where += f" (spans km {span[0]:.2f}&#8211;{span[1]:.2f})"
    lines = [
        head,
        f"id: {_e(site['site_id'])}",
        where,
        f"kind: {_e(site.get('kind'))}; scale: {_e(site.get('scale'))}; evidence on: {_e(site.get('bank_evidence'))}",
        f"score {'not recorded' if score is None else f'{score:.2f}'}; "
        f"first seen {_e(iso_date(site.get('first_seen')))}, last seen {_e(iso_date(site.get('last_seen')))}",
    ]
    evidence = details.get("evidence") or {}
    if evidence:
        lines.append("evidence: " + ", ".join(f"{_e(k)} {_e(v)}" for k, v in sorted(evidence.items())))
    cells = ["date", "vehicles", "large", "small", "heavy", "heavy in water", "on sandbar", "parking"]
    cells += [f"toward {_e(x)} [95 %]" for x in countries] + ["fronts from cars / large", "activity", "scale"]
    rows = ["<tr>" + "".join(f"<th>{h}</th>" for h in cells) + "</tr>"]
    runs: dict[str, list[str]] = {}
    fronts: dict[tuple[str, str], dict] = {}
    queues: list[str] = []
    for d in dates:
        o = by_date.get(d)
        if o is None:
            rows.append(f"<tr><td>{d}</td><td colspan='{len(cells) - 1}'>not imaged (outside that date's analysed "
                        "imagery): not seen, not idle</td></tr>")
            continue
        v = observation_values(o, countries)
        vals = [v["vehicles"], v["large_vehicle"], v["small_vehicle"], v["heavy_equipment"], v["heavy_in_water"],
                v["vehicles_on_sandbar"], v["parking_vehicles"]]
        row = [d] + ["&#8211;" if x is None else _e(f"{x:g}") for x in vals]
        for x in countries:
            n, share = v[f"toward_{x}"], v[f"share_toward_{x}"]
            lo, hi = v[f"share_low_{x}"], v[f"share_high_{x}"]
            text = "&#8211;" if share is None else f"{share:.0%} ({n:g})" if n is not None else f"{share:.0%}"
            if share is not None and lo is not None and hi is not None:  # the 95 % interval, as on the web map
                text += f" [{lo * 100:.0f}&#8211;{hi * 100:.0f}%]"
            row.append(text)
        cars, large = v["share_from_small_vehicle"], v["share_from_large_vehicle"]  # what the share rests on
        row.append("&#8211;" if cars is None else f"{cars:g} / {large:g}")
        row += ["&#8211;" if v["activity_score"] is None else f"{v['activity_score']:.2f}", _e(v["scale"] or "")]
        rows.append("<tr>" + "".join(f"<td>{x}</td>" for x in row) + "</tr>")
        fronts.update({(d, cls): m for cls, m in ((o.get("counts") or {}).get("front_reliability") or {}).items() if m})
        if v["convoy"]:  # vehicles one behind another: organised traffic (sites.queues)
            queues.append(f"on {d}: longest queue {v['longest_queue']:g} vehicles; a convoy of {v['convoy']:g} identical "
                          f"{_e(str(v['convoy_subclass'] or 'vehicles'))}<br/>")
        elif v["longest_queue"]:
            queues.append(f"on {d}: longest queue {v['longest_queue']:g} vehicles<br/>")
        if v["imaged_share"] is not None and v["imaged_share"] < FULLY_IMAGED_SHARE:  # the image ends across the site
            queues.append(f"on {d}: only {v['imaged_share']:.0%} of the site was imaged: counts may be low<br/>")
        if jpeg_variant_counted(v["detectors"]):  # JPEG imagery: counts hold up, fronts less so (the model card)
            queues.append(f"on {d}: counted on JPEG imagery by the detector's JPEG variant: the direction share is "
                          "less reliable there<br/>")
        if v["snow_flag"]:  # the detector reports many false cars on snow (sites.register)
            what = "vehicle counts left out" if "snow" in str(v["counts_withheld"] or "") else "car counts are doubtful"
            queues.append(f"on {d}: {v['snow_cover']:.0%} of the imagery looks snow-covered (snow, ice or cloud): "
                          f"{what}, and tracks may be hidden<br/>")
        if (v["river_ice"] or 0.0) >= FROZEN_SHARE:  # crossings on the ice leave ice roads, not fords
            queues.append(f"on {d}: the river looks frozen ({v['river_ice']:.0%} of its surface is ice)<br/>")
        if "river ice" in str(v["counts_withheld"] or ""):  # ice floes read as vehicles (sites.register)
            queues.append(f"on {d}: {v['river_ice']:.0%} of the river is ice, whose floes the detector reads as "
                          "vehicles: vehicle counts left out<br/>")
        if v["run_id"]:
            runs.setdefault(str(v["run_id"]), []).append(d)
    table = "<table border='1' cellpadding='2' cellspacing='0'>" + "".join(rows) + "</table>"
    table += ("direction: on real imagery car fronts are right about 3 times in 4 (the interval allows for it); "
              "fronts of large vehicles are unmeasured: a share resting on them is a weaker lead<br/>")
    table += "".join(queues)
    for (d, cls), m in fronts.items():  # how reliable fronts were in that image, from its queued vehicles
        what = "cars" if cls == "small_vehicle" else "large vehicles"
        table += (f"fronts on {d}, {what}: {m['pairs']} queued pairs agreed {m['agree']:.0%} where the calibration "
                  f"expected {m['expected']:.0%}; factor applied {m['applied']:g}<br/>")
    prov = "; ".join(f"run {_e(r)} ({', '.join(ds)})" for r, ds in runs.items()) or "no observations"
    return "<br/>".join(lines) + table + f"provenance: {prov}"


def _styles(doc: etree._Element, c: Corridor, with_sites: bool = False, with_evidence: bool = False) -> None:
    def style(sid: str) -> etree._Element:
        st = _sub(doc, "Style")
        st.set("id", sid)
        return st

    def line(st: etree._Element, rgba: str, width: float) -> None:
        ls = _sub(st, "LineStyle")
        _text(ls, "color", kml_colour(rgba))
        _text(ls, "width", f"{width:g}")

    def poly(st: etree._Element, rgba: str, fill: bool = True) -> None:
        ps = _sub(st, "PolyStyle")
        _text(ps, "color", kml_colour(rgba))
        _text(ps, "fill", "1" if fill else "0")

    def icon(st: etree._Element, rgba: str, scale: float, label_scale: float, shape: str = "placemark_circle",
             label_rgba: str | None = None) -> None:
        # IconStyle, LabelStyle, LineStyle, PolyStyle: the schema's order
        ic = _sub(st, "IconStyle")
        _text(ic, "color", kml_colour(rgba))
        _text(ic, "scale", f"{scale:g}")
        href = _sub(ic, "Icon")
        _text(href, "href", f"http://maps.google.com/mapfiles/kml/shapes/{shape}.png")
        lb = _sub(st, "LabelStyle")
        if label_rgba:
            _text(lb, "color", kml_colour(label_rgba))
        _text(lb, "scale", f"{label_scale:g}")

    line(style("corridor"), "#1f4fff", 3)
    for side, country in (("left", c.left_country), ("right", c.right_country)):
        st = style(f"bank-{side}")
        colour = country_colour(country, side)
        line(st, colour, 1.5)
        poly(st, colour + "40")
    line(style("tick"), "#202020", 2)
    icon(style("tick-label"), "#202020", 0.4, 0.8)
    icon(style("place"), "#ffffff", 0.9, 1.0)
    icon(style("place-outside"), "#9a9a9a", 0.7, 0.7)
    st = style("footprint")
    line(st, "#ff8c00", 2)
    poly(st, "#ff8c00", fill=False)
    if with_sites:
        for scale, colour in SCALE_COLOURS.items():
            st = style(f"site-{scale}")
            icon(st, colour, 1.2, 1.3, "placemark_circle", colour)
            line(st, colour, 2)
            poly(st, colour + "40")
        st = style("site-candidate")  # hollow diamond, outline only: visibly not a confirmed site
        icon(st, CANDIDATE_COLOUR, 0.9, 1.0, "open-diamond", CANDIDATE_COLOUR)
        line(st, CANDIDATE_COLOUR, 1.5)
        poly(st, CANDIDATE_COLOUR, fill=False)
    if with_evidence:
        st = style("evidence")
        line(st, "#ff9100", 2)
        poly(st, "#ff910060")
