"""The README's first command, end to end on a short stretch: scenes, store, KML and web map."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from lxml import etree

from borderwatch.cli import main
from borderwatch.store import Store


@pytest.mark.slow
def test_demo_end_to_end_and_rerun_skips(tmp_path, capsys):
    out = tmp_path / "demo"
    main_args = ["demo", "--out", str(out), "--km", "0:1", "--gsd", "0.8", "--detect"]
    with pytest.raises(SystemExit) as exc:
        main(main_args)
    assert exc.value.code == 0
    for name in ["borderwatch.gpkg", "corridor.kml", "index.html", "detections.geojson", "evidence.geojson",
                 "scenes/2025-07-31.tif", "scenes/2025-09-13.tif", "scenes/truth/objects.geojson", "overviews/2025-07-31.png"]:
        assert (out / name).exists(), name
    with Store.open(out / "borderwatch.gpkg") as store:
        scenes = store.scenes()
        results = store.tile_results()
        runs = store.runs()
    assert sorted(str(s.capture_date) for s in scenes) == ["2025-07-31", "2025-09-13"]
    assert {str(r["date"]) for r in results} == {"2025-07-31", "2025-09-13"}
    assert sum(r["stats"]["coverage"] > 0.95 for r in results) > len(results) / 2
    assert runs[-1]["status"] == "finished" and runs[-1]["model_versions"]["borderwatch"]
    assert runs[-1]["model_versions"]["detector"].startswith("borderwatch-vehicles")
    assert runs[-1]["parameters"]["detect"] is True
    kml = etree.parse(str(out / "corridor.kml"))
    assert kml.getroot().tag.endswith("kml")
    html = (out / "index.html").read_text()
    assert "overviews/2025-09-13.png" in html or "2025-09-13" in html
    assert "unpkg.com" not in html and "cdn" not in html.lower()

    capsys.readouterr()
    with pytest.raises(SystemExit):
        main(main_args)
    assert "computed 0" in capsys.readouterr().out.replace("\n", " ")

    if shutil.which("ogrinfo"):
        proc = subprocess.run(["ogrinfo", "-so", "-al", str(out / "borderwatch.gpkg")], capture_output=True, text=True)
        assert proc.returncode == 0 and "Warning" not in proc.stderr + proc.stdout
