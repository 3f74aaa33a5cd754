"""The corridor summary's trend: per date, the confirmed sites its imagery showed and the vehicles at them."""

from __future__ import annotations

from borderwatch.outputs.sites import summary_lines
from borderwatch.sites import summarise

A, B, C = "2025-07-31", "2025-09-13", "2025-12-10"


def _obs(site: str, date: str, scale: str, **counts) -> dict:
    return {"site_id": site, "date": date, "scale": scale, "counts": counts}


def test_the_trend_compares_dates_over_the_sites_each_imaged():
    sites = [{"site_id": "s1", "status": "site", "scale": "large", "kind": "ford"},
             {"site_id": "s2", "status": "site", "scale": "small", "kind": "bridge"},
             {"site_id": "c1", "status": "candidate", "scale": "small", "kind": "crossing"}]
    full = {"vehicles": 12, "large_vehicle": 9, "heavy_equipment": 1, "small_vehicle": 2}
    obs = [
        _obs("s1", A, "large", **full, imaged_share=1.0),
        _obs("s2", A, "small", vehicles=3, large_vehicle=0, heavy_equipment=0, small_vehicle=3, imaged_share=0.7),
        _obs("c1", B, "small", vehicles=2, large_vehicle=0, heavy_equipment=0, small_vehicle=2),  # B imaged no site
        _obs("s1", C, "large", vehicles=None, large_vehicle=None, heavy_equipment=None, small_vehicle=None,
             counts_withheld="snow"),
    ]
    trend = summarise(sites, obs, 10.0, "test")["trend"]
    assert list(trend) == [A, B, C]
    assert trend[A] == {"sites": 2, "imaged": 2, "partly_imaged": 1, "vehicles": 15, "large_vehicle": 9,
                        "heavy_equipment": 1, "small_vehicle": 5, "counts_withheld": None}
    assert trend[B]["imaged"] == 0 and trend[B]["vehicles"] is None  # nothing seen is not zero vehicles
    assert trend[C]["imaged"] == 1 and trend[C]["vehicles"] is None and trend[C]["counts_withheld"] == "snow"
    lines = summary_lines(summarise(sites, obs, 10.0, "test"))
    assert lines[lines.index("by date (confirmed sites):") + 1:] == [
        f"  {A}: 2 of 2 imaged (1 partly); large 1, small 1; vehicles 15 (large 9, heavy equipment 1, small 5)",
        f"  {B}: 0 of 2 imaged",
        f"  {C}: 1 of 2 imaged; large 1; vehicle counts left out (snow)"]
