"""What a run leaves in its output folder: KML for Google Earth, a web map, per-date overviews.

Everything here is derived from the store and the scenes, never from ground
truth, so the same files can be regenerated from a store alone.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from borderwatch.corridor.model import Corridor
from borderwatch.imagery.scene import Scene


def write_run_outputs(out_dir: Path, corridor: Corridor, scenes: list[Scene], store, progress: Callable[[int, int], None] | None = None) -> list[Path]:
    """corridor.kml, overviews/<date>.png and index.html for one run folder."""
    from borderwatch.outputs.kml import write_corridor_kml
    from borderwatch.outputs.overview import render_overlay
    from borderwatch.outputs.webmap import write_web_map
    from borderwatch.pipeline.run import scenes_by_date

    out_dir = Path(out_dir)
    by_date = scenes_by_date(scenes)
    steps = len(by_date) + 2
    done = 0

    def tick() -> None:
        nonlocal done
        done += 1
        if progress:
            progress(done, steps)

    written = [write_corridor_kml(corridor, out_dir / "corridor.kml", scenes=scenes)]
    tick()
    overlays = []
    bounds_lonlat = corridor.to_lonlat(corridor.area).bounds
    for date, day in by_date.items():
        png, bounds = render_overlay(day, out_dir / "overviews" / f"{date.isoformat()}.png", bounds_lonlat=bounds_lonlat)
        overlays.append((date, png, bounds))
        written.append(png)
        tick()
    written.append(write_web_map(out_dir, corridor, scenes, overlays, title=f"borderwatch: {corridor.name}"))
    tick()
    return written
