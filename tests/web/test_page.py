"""write_web_map: a self-contained page with inline GeoJSON, bundled Leaflet and per-date imagery."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pytest

from borderwatch.corridor import load_corridor
from borderwatch.errors import InputError, SceneError
from borderwatch.outputs.overview import build_overlays
from borderwatch.web import LEAFLET_VERSION, write_web_map

from rasters import make_geotiff, make_scene


@pytest.fixture(scope="module")
def corridor():
    return load_corridor("yalu-upper[0:10]")


@pytest.fixture
def scenes(tmp_path):
    a = make_geotiff(tmp_path / "a.tif", lon=128.16, lat=41.41)
    b = make_geotiff(tmp_path / "b.tif", lon=128.15, lat=41.405)
    return [make_scene(a, dt.date(2021, 5, 1)), make_scene(b, dt.date(2019, 9, 9), licence="Maxar EULA (test)")]


def _data(page: Path) -> dict:
    m = re.search(r'<script type="application/json" id="bw-data">(.*?)</script>', page.read_text(), re.S)
    assert m, "no embedded data"
    return json.loads(m.group(1))


def test_page_is_self_contained(corridor, scenes, tmp_path):
    overlays = build_overlays(scenes, tmp_path / "png", max_px=128)
    out = tmp_path / "map"
    sites = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [128.17, 41.41]},
         "properties": {"name": "site </script><b>x</b>", "score": 0.9}},
    ]}
    page = write_web_map(out, corridor, scenes, overlays, title="Yalu <test> & map",
                         extra_layers=[("Sites", sites, {"color": "#00aa00"})])
    assert page == out / "index.html"
    text = page.read_text()
    assert "<title>Yalu &lt;test&gt; &amp; map</title>" in text
    assert text.count("</script>") == 3  # the data cannot close its script element early
    # local copies only: no http(s) URL is loaded by the page
    assert not re.search(r'(src|href)="(https?:)?//', text)
    for rel in ("lib/leaflet/leaflet.js", "lib/leaflet/leaflet.css", "lib/leaflet/LICENSE",
                "lib/leaflet/images/layers.png", "lib/borderwatch-map.js", "lib/borderwatch-map.css"):
        assert (out / rel).is_file(), rel
    assert f"Leaflet {LEAFLET_VERSION}" in text
    assert f"Leaflet {LEAFLET_VERSION}," in (out / "lib/leaflet/leaflet.js").read_text()[:200]
    assert "fetch(" not in (out / "lib/borderwatch-map.js").read_text()

    data = _data(page)
    assert [im["label"] for im in data["imagery"]] == ["2019-09-09", "2021-05-01"]
    for im in data["imagery"]:
        assert not im["url"].startswith(("/", "http")) and (out / im["url"]).is_file()
        (s, w), (n, e) = im["bounds"]
        assert 128 < w < e < 128.3 and 41.3 < s < n < 41.5
    layers = data["layers"]
    assert layers["corridor"]["features"][0]["geometry"]["type"] == "LineString"
    lon, lat = layers["corridor"]["features"][0]["geometry"]["coordinates"][0]
    assert 127.5 < lon < 128.5 and 41 < lat < 42
    assert [f["properties"]["country"] for f in layers["banks"]["features"]] == ["KP", "CN"]
    labels = [f["properties"]["label"] for f in layers["ticks"]["features"] if f["geometry"]["type"] == "Point"]
    assert labels == [f"km {i}" for i in range(11)]
    places = {f["properties"]["name"]: f["properties"]["inside"] for f in layers["places"]["features"]}
    assert places["Hyesan"] is True and places["Changbai"] is False
    assert [f["properties"]["date"] for f in layers["footprints"]["features"]] == ["2019-09-09", "2021-05-01"]
    attribution = " | ".join(data["attribution"])
    assert "OpenStreetMap" in attribution and "ODbL" in attribution
    assert "GeoNames" in attribution and "CC-BY" in attribution
    assert "Maxar EULA (test)" in attribution and "CC-BY-4.0 (test)" in attribution
    assert data["extra"][0]["name"] == "Sites"
    assert data["extra"][0]["geojson"]["features"][0]["properties"]["name"] == "site </script><b>x</b>"
    assert "Sites" in [item["label"] for item in data["legend"]]


def test_overlay_tuples_and_label_clash(corridor, scenes, tmp_path):
    ov = build_overlays(scenes[:1], tmp_path / "png", max_px=64)[0]
    page = write_web_map(tmp_path / "m", corridor, [], [("2021", ov.png, ov.bounds_lonlat), ("2021", ov.png, ov.bounds_lonlat)],
                         title="t")
    data = _data(page)
    assert [im["label"] for im in data["imagery"]] == ["2021", "2021 (2)"]
    assert data["imagery"][0]["url"] == "imagery/2021-05-01.png"
    assert data["layers"]["footprints"]["features"] == []


def test_bad_inputs(corridor, scenes, tmp_path):
    with pytest.raises(InputError, match="missing.png"):
        write_web_map(tmp_path / "m", corridor, [], [("x", tmp_path / "missing.png", (1, 2, 3, 4))], title="t")
    with pytest.raises(InputError, match="extra_layers"):
        write_web_map(tmp_path / "m", corridor, [], [], title="t", extra_layers=[("only a name",)])
    with pytest.raises(InputError, match="Sites"):
        write_web_map(tmp_path / "m", corridor, [], [], title="t", extra_layers=[("Sites", {"foo": 1}, {})])
    from dataclasses import replace

    with pytest.raises(SceneError, match="a.tif"):
        write_web_map(tmp_path / "m", corridor, [replace(scenes[0], footprint_wkt="LINESTRING (1 1, 2 2)")], [], title="t")
    assert not (tmp_path / "m" / "index.html").exists()


# -- crossing sites --------------------------------------------------------------------


@pytest.fixture
def site_fc(tmp_path, corridor):
    from borderwatch.outputs.sites import corridor_register, sites_geojson
    from borderwatch.sites import summarise
    from borderwatch.store import Store

    from register_rows import make_register

    with Store.open(tmp_path / "bw.gpkg", create=True) as store:
        make_register(store, corridor)
        sites, obs = corridor_register(store, corridor)
    return sites_geojson(sites, obs, ["KP", "CN"]), summarise(sites, obs, corridor.length_km, corridor.name)


def test_sites_layer_and_table_data(corridor, site_fc, tmp_path):
    from shapely.geometry import Point, shape

    fc, summary = site_fc
    page = write_web_map(tmp_path / "m", corridor, [], [], title="t", sites=fc, site_summary=summary)
    data = _data(page)
    s = data["sites"]
    assert s["name"] == "Crossing sites (3 + 1 candidates)"
    assert s["dates"] == ["2025-07-31", "2025-09-13"] and s["countries"] == ["KP", "CN"]
    assert [f["properties"]["number"] for f in s["features"]] == [1, 2, None, 3]
    for f in s["features"]:
        lat, lon = f["anchor"]
        assert shape(f["geometry"]).contains(Point(lon, lat))  # the numbered marker sits on its site
        assert not [k for k in f["properties"] if k.endswith("2025-07-31")]  # flat copies stay in sites.geojson only
    p1 = s["features"][0]["properties"]
    assert p1["dates"]["2025-07-31"]["vehicles"] == 14 and p1["dates"]["2025-07-31"]["share_toward"]["KP"] == 0.75
    assert s["features"][2]["properties"]["status"] == "candidate"
    assert s["features"][2]["properties"]["candidate_note"].startswith("evidence on the")  # the popup's words
    assert "candidate_note" not in s["features"][0]["properties"]
    assert s["colours"]["large"] != s["colours"]["small"] != s["candidate_colour"]
    assert any("3 site(s) and 1 candidate(s)" in line for line in s["summary"])
    legend = [item["label"] for item in data["legend"]]
    assert "Candidate site (evidence on one bank only, or nothing seen at the water)" in legend and any("large-scale" in x for x in legend)
    # no sites: no layer, no legend rows
    plain = _data(write_web_map(tmp_path / "p", corridor, [], [], title="t"))
    assert plain["sites"] is None and not [x for x in plain["legend"] if "site" in x["label"].lower()]


def test_bad_sites_input(corridor, site_fc, tmp_path):
    site_fc, _ = site_fc
    with pytest.raises(InputError, match="sites: must be a GeoJSON FeatureCollection"):
        write_web_map(tmp_path / "m", corridor, [], [], title="t", sites={"features": []})
    broken = {**site_fc, "features": [{**site_fc["features"][0], "geometry": None}]}
    with pytest.raises(InputError, match=r"sites\[0\]"):
        write_web_map(tmp_path / "m", corridor, [], [], title="t", sites=broken)
    assert not (tmp_path / "m" / "index.html").exists()
