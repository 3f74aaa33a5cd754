"""The generated page in a real headless Chromium (Debian's), offline, from file://."""

from __future__ import annotations

import datetime as dt
import os
import shutil
from pathlib import Path

import pytest

from borderwatch.corridor import load_corridor
from borderwatch.outputs.overview import build_overlays
from borderwatch.web import write_web_map

from rasters import make_geotiff, make_scene

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _playwright():
    """sync_playwright, or skip outside CI when Chromium or playwright is missing (CI must run this)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        sync_playwright = None
    if sync_playwright is None or not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail("CI must have Debian chromium (/usr/bin/chromium) and the playwright package")
        pytest.skip("needs /usr/bin/chromium and the playwright package")
    return sync_playwright


def test_page_in_headless_chromium(tmp_path):
    sync_playwright = _playwright()
    corridor = load_corridor("yalu-upper[0:10]")
    a = make_geotiff(tmp_path / "a.tif", lon=128.16, lat=41.415, width=800, height=600)
    b = make_geotiff(tmp_path / "b.tif", lon=128.14, lat=41.405, width=800, height=600, nodata_cols=0)
    scenes = [make_scene(a, dt.date(2021, 5, 1)), make_scene(b, dt.date(2019, 9, 9), licence="Test EULA")]
    overlays = build_overlays(scenes, tmp_path / "png", max_px=512)
    sites = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [128.175, 41.41]},
         "properties": {"name": "test site"}}]}
    page = write_web_map(tmp_path / "map", corridor, scenes, overlays, title="Upper Yalu km 0-10",
                         extra_layers=[("Sites", sites, {"color": "#00b050"})])

    console_errors: list[str] = []
    page_errors: list[str] = []
    requests: list[str] = []
    failed: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            ctx = browser.new_context(viewport={"width": 1280, "height": 860})
            pg = ctx.new_page()
            pg.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
            pg.on("pageerror", lambda e: page_errors.append(str(e)))
            pg.on("request", lambda r: requests.append(r.url))
            pg.on("requestfailed", lambda r: failed.append(r.url))
            pg.goto(page.as_uri())
            pg.wait_for_selector("body[data-bw-ready='1']", timeout=10_000)
            pg.wait_for_load_state("load")
            pg.wait_for_function(
                "Array.from(document.querySelectorAll('img.bw-imagery')).every(i => i.complete && i.naturalWidth > 0)",
                timeout=10_000,
            )

            assert pg.locator(".leaflet-container").count() == 1
            d = pg.locator("svg path.bw-corridor").first.get_attribute("d")
            assert d and d.startswith("M") and len(d) > 20
            assert pg.locator("svg path.bw-bank").count() == 2
            assert pg.locator(".bw-km").count() == 11
            visible = "Array.from(document.querySelectorAll('.bw-km')).filter(e => e.style.display !== 'none').length"
            assert pg.evaluate(visible) == 11
            assert pg.locator("path.bw-place").count() >= 1
            assert pg.locator("path.bw-footprint").count() == 2
            control = pg.locator(".leaflet-control-layers").inner_text()
            for label in ("2019-09-09", "2021-05-01", "No imagery", "River line", "Places", "Sites"):
                assert label in control, label
            # the newest date is shown; switching dates swaps the image
            assert pg.locator("img.bw-imagery").count() == 1
            assert pg.locator("img.bw-imagery").get_attribute("src").endswith("2021-05-01.png")
            pg.get_by_text("2019-09-09").click()
            assert pg.locator("img.bw-imagery").get_attribute("src").endswith("2019-09-09.png")
            pg.get_by_text("2021-05-01").click()
            assert pg.locator(".leaflet-control-scale-line").count() == 1
            attribution = pg.locator(".leaflet-control-attribution").inner_text()
            assert "OpenStreetMap" in attribution and "GeoNames" in attribution and "Test EULA" in attribution
            assert "Legend" in pg.locator(".bw-legend").inner_text()
            pg.screenshot(path=str(tmp_path / "map.png"))
            # zoomed out, the km labels thin out (every 5 or 10 km) instead of piling up
            pg.evaluate("bwMap.setZoom(10, {animate: false})")
            assert 1 <= pg.evaluate(visible) <= 3
        finally:
            browser.close()

    shot = tmp_path / "map.png"
    assert shot.stat().st_size > 10_000
    keep = os.environ.get("BORDERWATCH_SCREENSHOT_DIR")
    if keep:
        shutil.copy(shot, Path(keep) / "web-map.png")
    assert not console_errors, console_errors
    assert not page_errors, page_errors
    assert not failed, failed
    outside = [u for u in requests if not u.startswith(("file://", "data:"))]
    assert not outside, outside
    assert any(u.endswith("leaflet.js") for u in requests)


def test_crossing_sites_in_headless_chromium(tmp_path):
    """Numbered site markers (candidates marked), popups with per-date counts and shares, the river-order table."""
    sync_playwright = _playwright()
    from borderwatch.outputs.sites import corridor_register, sites_geojson
    from borderwatch.sites import summarise
    from borderwatch.store import Store

    from register_rows import make_register

    corridor = load_corridor("yalu-upper[0:10]")
    with Store.open(tmp_path / "bw.gpkg", create=True) as store:
        make_register(store, corridor)
        sites, obs = corridor_register(store, corridor)
        # the last site was confirmed after 1 and 2 were given (sites.numbering): it shows its label
        store.update_rows("sites", {"site_id": sites[3]["site_id"]}, {"number": 2, "label": "2a"})
        store.write_rows("site_numbers", [{"corridor": "yalu-upper", "edition": 1, "label": "1", "number": 1,
                                           "site_id": sites[0]["site_id"], "chainage_km": sites[0]["chainage_km"]}])
        sites, obs = corridor_register(store, corridor)
    # site 1's second date: its counts left out for river ice (floes read as vehicles), not for its snow
    for o in obs:
        if o["site_id"] == sites[0]["site_id"] and str(o["date"])[:10] == "2025-09-13":
            o["counts"] = {**o["counts"], "counts_withheld": "river ice"}
    fc = sites_geojson(sites, obs, ["KP", "CN"])
    summary = summarise(sites, obs, corridor.length_km, corridor.name)
    page = write_web_map(tmp_path / "map", corridor, [], [], title="sites", sites=fc, site_summary=summary)

    errors: list[str] = []
    requests: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            pg = browser.new_context(viewport={"width": 1280, "height": 860}).new_page()
            pg.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            pg.on("pageerror", lambda e: errors.append(str(e)))
            pg.on("request", lambda r: requests.append(r.url))
            pg.goto(page.as_uri())
            pg.wait_for_selector("body[data-bw-ready='1']", timeout=10_000)

            markers = pg.locator(".leaflet-marker-pane .bw-site")
            assert markers.count() == len(sites) == 4
            assert sorted(markers.all_inner_texts()) == ["1", "2", "2a", "?"]  # a candidate has no number
            assert pg.locator(".leaflet-marker-pane .bw-site-candidate").count() == 1
            assert pg.locator(".leaflet-marker-pane .bw-site-candidate").inner_text() == "?"
            assert pg.locator("path.bw-site-area").count() == 4
            assert pg.locator("path.bw-site-area-candidate").get_attribute("stroke-dasharray") == "5 4"
            # a candidate looks different from a site: hollow, dashed
            style = "(sel) => getComputedStyle(document.querySelector(sel)).borderStyle"
            assert pg.evaluate(style, ".bw-site-candidate span") == "dashed"
            assert pg.evaluate(style, ".bw-site-large span") == "solid"
            # every marker is inside the view the page opens with
            inside = pg.evaluate(
                "() => Array.from(document.querySelectorAll('.leaflet-marker-pane .bw-site')).every(e => {"
                " const r = e.getBoundingClientRect(), m = document.getElementById('map').getBoundingClientRect();"
                " return r.left >= m.left && r.right <= m.right && r.top >= m.top && r.bottom <= m.bottom; })")
            assert inside
            assert "Crossing sites (3 + 1 candidates)" in pg.locator(".leaflet-control-layers").inner_text()

            # the marker's popup: per-date counts and direction shares
            pg.locator(".leaflet-marker-pane .bw-site-large").click()
            popup = pg.locator(".leaflet-popup-content")
            popup.wait_for(timeout=5_000)
            text = popup.inner_text()
            assert "Crossing site 1" in text and sites[0]["site_id"] in text
            given = popup.locator("tr", has_text="number given").inner_text()
            assert given.endswith("(numbering edition 1)") and sites[0]["label_given"] in given
            assert popup.locator("table.bw-site-dates tr").first.locator("th").all_inner_texts()[1:] == ["2025-07-31", "2025-09-13"]
            counts = [r.locator("td").all_inner_texts() for r in popup.locator("tr.bw-site-count").all()]
            assert counts[:4] == [["14", "19"], ["5", "7"], ["8", "10"], ["1", "2"]]  # vehicles, large, small, heavy
            shares = [r.inner_text().split("\t") for r in popup.locator("tr.bw-site-share").all()]
            # with the 95 % interval where the register gave one
            assert shares == [["→ KP", "75% (6) [42–95%]", "25% (3)"], ["→ CN", "25% (2) [5–58%]", "75% (9)"]]
            # and what they rest on, where the register recorded it
            assert popup.locator("tr.bw-site-basis").inner_text().split("\t") == ["fronts from cars / large", "3 / 5", "–"]
            # and the front factor measured on that image's queued vehicles (cars: too few pairs)
            assert popup.locator("tr.bw-site-fronts").inner_text().split("\t") == [
                "front factor cars / large", "– / ×1.12 (81)", "–"]
            assert popup.locator("tr.bw-site-queue").inner_text().split("\t") == [
                "longest queue / convoy", "9 / 7 dump_truck", "–"]
            # how much of each date's imagery looked snow-covered; a flagged date says its counts are doubtful
            assert popup.locator("tr.bw-site-snow").inner_text().split("\t") == [
                "snow / ice / cloud", "1%", "58%: counts doubtful"]
            # how much of the river's surface the land cover read as ice, and counts left out for it
            assert popup.locator("tr.bw-site-ice").inner_text().split("\t") == [
                "river ice", "12%", "93%: frozen: counts left out"]
            # which detector counted each date (the first: not recorded); on JPEG imagery its JPEG variant
            assert popup.locator("tr.bw-site-detector").inner_text().split("\t") == [
                "detector", "–",
                "borderwatch-vehicles-jpeg@0.2.4, borderwatch-vehicles@0.2.3: JPEG imagery, direction less reliable"]
            # how much of the site each date's imagery showed (not recorded for this site)
            assert popup.locator("tr.bw-site-imaged").inner_text().split("\t") == ["imaged", "–", "–"]

            # the table in river order; a row opens its site's popup
            table = pg.locator(".bw-sites-table tr.bw-site-row")
            assert table.count() == 4
            assert [table.nth(i).locator("td").first.inner_text() for i in range(4)] == ["1", "2", "?", "2a"]
            assert table.nth(3).get_attribute("title") == "show crossing site 2a on the map"
            # the second date's image ends across site 2 (its count marked); the candidate was not imaged on the first
            assert table.nth(1).locator("td").nth(8).inner_text() == "4* 1/3/0"
            assert table.nth(2).locator("td").nth(6).inner_text() == "not imaged"
            assert "bw-site-row-candidate" in table.nth(2).get_attribute("class")
            panel = pg.locator(".bw-sites-panel").inner_text()
            assert "3 site(s) and 1 candidate(s)" in panel
            # the trend over the dates, over the sites each date imaged; counts left out are not summed
            assert "2025-07-31: 3 of 3 imaged; large 1, small 1, inactive 1; vehicles 18" in panel
            assert "2025-09-13: 3 of 3 imaged (1 partly); large 1, small 1, inactive 1; vehicle counts left out (river ice)" in panel
            # the second date's image ends across site 2: its popup says how much of it was imaged
            table.nth(1).click()
            pg.wait_for_function("document.querySelector('.leaflet-popup-content') && "
                                 f"document.querySelector('.leaflet-popup-content').innerText.includes('{sites[1]['site_id']}')",
                                 timeout=5_000)
            assert pg.locator(".leaflet-popup-content tr.bw-site-imaged").inner_text().split("\t") == [
                "imaged", "–", "70%: counts may be low"]
            table.nth(2).click()
            pg.wait_for_function("document.querySelector('.leaflet-popup-content') && "
                                 "document.querySelector('.leaflet-popup-content').innerText.includes('Candidate crossing site, km 6.00')",
                                 timeout=5_000)
            assert "not imaged" in pg.locator(".leaflet-popup-content").inner_text()
            # why it is only a candidate (outputs.sites.candidate_note)
            assert pg.locator(".leaflet-popup-content .bw-site-note").inner_text().startswith("evidence on the ")
            pg.screenshot(path=str(tmp_path / "sites.png"))
        finally:
            browser.close()

    keep = os.environ.get("BORDERWATCH_SCREENSHOT_DIR")
    if keep:
        shutil.copy(tmp_path / "sites.png", Path(keep) / "web-map-sites.png")
    assert not errors, errors
    assert not [u for u in requests if not u.startswith(("file://", "data:"))]
