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
