"""The ``borderwatch`` command: a thin shell over the library.

Every user-facing failure is a BorderwatchError: one line naming the file and the
problem on stderr, exit code 2, and nothing written to the store.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from contextlib import contextmanager
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from borderwatch import __version__
from borderwatch.analysis.detect.cli import detect_cmd, evaluate_cmd, no_screen_option, train_cmd
from borderwatch.errors import BorderwatchError, InputError

console = Console()
err_console = Console(stderr=True)

DEFAULT_STORE = "borderwatch.gpkg"


# -- helpers ----------------------------------------------------------------------
@contextmanager
def progress_bar(label: str):
    """A rich progress bar; yields a ``progress(done, total)`` callback."""
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=False,
    ) as bar:
        task = bar.add_task(label, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


def parse_date(text: str, source: str = "--date") -> dt.date:
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise InputError(source, f"unparseable date {text!r} (use YYYY-MM-DD)") from None


def parse_dates(text: str, source: str = "--dates") -> list[dt.date]:
    dates = [parse_date(t, source) for t in text.split(",") if t.strip()]
    if not dates:
        raise InputError(source, "no dates given")
    return sorted(set(dates))


def parse_km(text: str) -> tuple[float, float]:
    try:
        a, b = (float(v) for v in text.split(":"))
    except ValueError:
        raise InputError("--km", f"bad range {text!r} (use START:END in km, e.g. 0:10)") from None
    if not (0 <= a < b):
        raise InputError("--km", f"bad range {text!r} (need 0 <= START < END)")
    return a, b


def _corridor(spec: str, width: float | None = None, left: str | None = None, right: str | None = None, origin: str | None = None):
    from borderwatch.corridor import load_corridor

    return load_corridor(spec, width_m=width, left_country=left, right_country=right, origin=origin)


corridor_option = click.option(
    "--corridor", "corridor_spec", default="yalu-upper", show_default=True,
    help="Bundled corridor name or GeoJSON/KML/GeoPackage file; add [A:B] for a stretch by km or place names.",
)
store_option = click.option("--store", "store_path", default=DEFAULT_STORE, show_default=True, type=click.Path(dir_okay=False), help="GeoPackage store.")


# -- the command group ------------------------------------------------------------------
@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="borderwatch")
def cli() -> None:
    """Find, count and track cross-border crossings along a border river in dated imagery."""


# corridor ---------------------------------------------------------------------------
@cli.group()
def corridor() -> None:
    """Border-river corridors: bundled lines, chainage, places."""


@corridor.command("list")
def corridor_list() -> None:
    """List the bundled corridors."""
    from borderwatch.corridor import BUNDLED

    for name, text in BUNDLED.items():
        console.print(f"[bold]{name}[/bold]  {text}")


@corridor.command("show")
@click.argument("spec", default="yalu-upper")
@click.option("--width", type=float, default=None, help="Watched width on each bank in metres (default 1500).")
@click.option("--left-country", default=None, help="Country on the left bank looking from the origin (files only).")
@click.option("--right-country", default=None, help="Country on the right bank (files only).")
@click.option("--origin", default=None, help="Origin as a place name or 'lon,lat' (files only).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def corridor_show(spec, width, left_country, right_country, origin, as_json) -> None:
    """Print a corridor's length, CRS, bank widths and places with their chainage.

    SPEC is a bundled name (yalu-upper, yalu) or a vector file, optionally with a
    stretch: yalu-upper[0:10], yalu[Hyesan:Kimhyongjik-up].
    """
    from shapely.geometry import Point

    c = _corridor(spec, width, left_country, right_country, origin)
    info = c.describe()
    places = [
        {"name": p.name, "chainage_km": round(p.chainage_km, 2), "offset_m": round(p.offset_m), "country": p.country,
         "in_corridor": bool(c.area.covers(c.from_lonlat(Point(p.lon, p.lat))))}
        for p in c.places
    ]
    if as_json:
        console.print_json(json.dumps({**info, "places": places}))
        return
    console.print(f"[bold]{c.name}[/bold]: {c.length_km:.1f} km from {c.origin_name}, {info['crs']}")
    console.print(f"left bank {c.left_country} {c.left_width_m:g} m, right bank {c.right_country} {c.right_width_m:g} m")
    console.print("river ice read from " + (info["freeze_season"].replace("/", " to ") + " (month-day)" if info["freeze_season"]
                                            else "no date (no freeze season given)"))
    table = Table("place", "km", "offset m", "bank", "in corridor")
    for p in places:
        table.add_row(p["name"], f"{p['chainage_km']:.2f}", str(p["offset_m"]), p["country"], "yes" if p["in_corridor"] else "no")
    console.print(table)
    console.print(f"[dim]{c.attribution}[/dim]")


@corridor.command("export")
@click.argument("spec", default="yalu-upper")
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False), help="KML or KMZ file to write.")
@click.option("--tick-km", type=float, default=1.0, show_default=True, help="Chainage tick spacing.")
def corridor_export(spec, out_path, tick_km) -> None:
    """Write a corridor as Google Earth KML/KMZ (banks, chainage ticks, places)."""
    from borderwatch.outputs.kml import write_corridor_kml, write_kmz

    c = _corridor(spec)
    out = Path(out_path)
    if out.suffix.lower() == ".kmz":
        write_kmz(c, out, tick_km=tick_km)
    else:
        write_corridor_kml(c, out, tick_km=tick_km)
    console.print(f"wrote {out}")


# scenes -----------------------------------------------------------------------------
@cli.group()
def scenes() -> None:
    """The scene catalog: register images and see what each date covers."""


@scenes.command("add")
@click.argument("files", nargs=-1, required=True, type=click.Path())
@click.option("--date", "date_text", default=None, help="Capture date YYYY-MM-DD (overrides tags and KML).")
@click.option("--licence", default="", help="Licence/credit line for these images, e.g. 'Imagery (c) 2025 Maxar, via Google Earth'.")
@click.option("--provider", default=None, help="Provider (e.g. Maxar, Airbus, Google Earth).")
@click.option("--sensor", default=None, help="Sensor (e.g. WV3, Pleiades).")
@corridor_option
@click.option("--no-corridor-check", is_flag=True, help="Register even if a footprint misses the corridor.")
@store_option
def scenes_add(files, date_text, licence, provider, sensor, corridor_spec, no_corridor_check, store_path) -> None:
    """Register GeoTIFF/COG files or Google Earth Pro exports (image + KML GroundOverlay) as scenes.

    Every file is checked first; the store is written only if all of them are
    good, in one transaction.
    """
    from borderwatch.imagery import register_scene
    from borderwatch.store import Store

    date = parse_date(date_text) if date_text else None
    corridor_obj = None if no_corridor_check else _corridor(corridor_spec)
    registered = []
    with progress_bar("checking scenes") as progress:
        for i, f in enumerate(files):
            registered.append(register_scene(f, date=date, licence=licence, provider=provider, sensor=sensor, corridor=corridor_obj))
            progress(i + 1, len(files))
    with Store.open(store_path, create=True) as store:
        store.add_scenes(registered)
    for s in registered:
        console.print(f"{s.scene_id}  {s.capture_date}  {s.gsd_m:.2f} m  {s.band_count} bands  {s.provider}  {Path(s.path).name}")
    console.print(f"registered {len(registered)} scene(s) in {store_path}")


@scenes.command("list")
@corridor_option
@store_option
def scenes_list(corridor_spec, store_path) -> None:
    """Per capture date: scenes, the share of the corridor covered, and the gaps by chainage."""
    from borderwatch.imagery import coverage_by_date
    from borderwatch.store import Store

    if not Path(store_path).exists():
        raise InputError(store_path, "no such store (register scenes with 'borderwatch scenes add' first)")
    c = _corridor(corridor_spec)
    with Store.open(store_path, create=False) as store:
        all_scenes = store.scenes()
    if not all_scenes:
        console.print("no scenes registered")
        return
    table = Table("date", "scenes", "covered", "gaps (km)")
    for cov in coverage_by_date(all_scenes, c):
        gaps = ", ".join(f"{a:.1f}–{b:.1f}" for a, b in cov.gaps) or "none"
        table.add_row(cov.date.isoformat(), str(cov.scene_count), f"{cov.share:.1%}", gaps)
    console.print(f"[bold]{c.name}[/bold] ({c.length_km:.1f} km)")
    console.print(table)


# synth ------------------------------------------------------------------------------
@cli.command()
@corridor_option
@click.option("--km", "km_text", default="0:10", show_default=True, help="Chainage range START:END (km from the origin).")
@click.option("--gsd", type=float, default=0.5, show_default=True, help="Ground sample distance in metres (0.3-1.0 is realistic).")
@click.option("--dates", "dates_text", default="2025-07-31,2025-09-13", show_default=True, help="Comma-separated capture dates.")
@click.option("--seed", type=int, default=7, show_default=True)
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False))
def synth(corridor_spec, km_text, gsd, dates_text, seed, out_dir) -> None:
    """Render synthetic multi-date scenes with ground truth (DIR/<date>.tif, DIR/truth/)."""
    from borderwatch.synth import write_scenes

    c = _corridor(corridor_spec)
    km = parse_km(km_text)
    dates = parse_dates(dates_text)
    with progress_bar("rendering") as progress:
        paths = write_scenes(c, km=km, gsd_m=gsd, dates=dates, seed=seed, out_dir=Path(out_dir), progress=progress)
    for p in paths:
        console.print(f"wrote {p}")


# run --------------------------------------------------------------------------------
@cli.command()
@corridor_option
@click.option("--scenes", "scene_files", multiple=True, type=click.Path(),
              help="Scene files to register before the run (repeatable; files after it, as a shell glob gives them, "
                   "count too); default: the store's scenes.")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False), help="Output folder (store, KML, web map).")
@click.option("--store", "store_path", default=None, type=click.Path(dir_okay=False), help="Store (default OUT/borderwatch.gpkg).")
@click.option("--gsd", type=float, default=0.5, show_default=True,
              help="Analysis GSD in metres (crossing evidence and sites need 2 m or finer, the bundled detector 0.25-0.8 m).")
@click.option("--tile-m", type=float, default=512.0, show_default=True, help="Tile size in metres.")
@click.option("--workers", type=int, default=1, show_default=True, help="Worker processes (>1 starts a dask LocalCluster).")
@click.option("--scheduler", default=None, help="Address of an existing dask scheduler (tcp://host:8786).")
@click.option("--date", "date_text", default=None, help="Capture date for scenes that carry none.")
@click.option("--licence", default="", help="Licence line for the scenes registered here.")
@click.option("--detect/--no-detect", default=False, show_default=True,
              help="Detect vehicles and heavy equipment (experimental: read the model card's accuracy first).")
@click.option("--model", default="bundled", show_default=True, help="Detector: 'bundled' or a borderwatch ONNX detector file.")
@click.option("--score-threshold", type=float, default=None,
              help="Lowest detection score kept (default: the model's operating point, 0.35 for the bundled model).")
@click.option("--landcover/--no-landcover", default=False, show_default=True,
              help="Land cover per tile and distance to water for detections (experimental on real imagery).")
@no_screen_option
@click.argument("more_scene_files", nargs=-1, type=click.Path())
def run(corridor_spec, scene_files, out_dir, store_path, gsd, tile_m, workers, scheduler, date_text, licence, detect, model, score_threshold, landcover,
        no_screen, more_scene_files) -> None:
    """Run the pipeline over a corridor: tiles x dates, resumable, results in the store.

    Scene files may follow the options or --scenes: `--scenes images/*.tif` registers every file the glob gives.
    """
    params = _params(gsd, tile_m, detect, model, score_threshold, landcover, screen=not no_screen)
    _run(corridor_spec, [*scene_files, *more_scene_files], Path(out_dir), store_path, params, workers, scheduler,
         parse_date(date_text) if date_text else None, licence)


def _params(gsd, tile_m, detect=False, model="bundled", score_threshold=None, landcover=False, screen=True):
    from borderwatch.pipeline import AnalysisParams

    if gsd <= 0 or tile_m <= 0:
        raise InputError("--gsd/--tile-m", "must be positive")
    if score_threshold is not None and not 0 < score_threshold < 1:
        raise InputError("--score-threshold", "must be between 0 and 1")
    if model != "bundled" and not Path(model).is_file():
        raise InputError(model, "detector model file not found")
    return AnalysisParams(gsd_m=gsd, tile_m=tile_m, detect=detect, model=model if model == "bundled" else str(Path(model).resolve()),
                          score_threshold=score_threshold, landcover=landcover, screen=screen)


def _run(corridor_spec, scene_files, out_dir: Path, store_path, params, workers, scheduler, date=None, licence="") -> None:
    from borderwatch.imagery import register_scene
    from borderwatch.outputs.publish import write_run_outputs
    from borderwatch.pipeline import make_executor, run_pipeline
    from borderwatch.pipeline.run import jpeg_warnings
    from borderwatch.store import Store

    if workers is not None and workers < 1:
        raise InputError("--workers", "must be at least 1")
    c = _corridor(corridor_spec)
    store_file = Path(store_path) if store_path else out_dir / "borderwatch.gpkg"
    new_scenes = []
    if scene_files:
        with progress_bar("checking scenes") as progress:
            for i, f in enumerate(scene_files):
                new_scenes.append(register_scene(f, date=date, licence=licence, corridor=c))
                progress(i + 1, len(scene_files))
    out_dir.mkdir(parents=True, exist_ok=True)
    with Store.open(store_file, create=True) as store:
        if new_scenes:
            store.add_scenes(new_scenes)
        wanted = {s.scene_id for s in new_scenes}
        scenes_ = [s for s in store.scenes() if not wanted or s.scene_id in wanted]
        if not scenes_:
            raise InputError(str(store_file), "no scenes to analyse (give --scenes FILE...)")
        executor = make_executor(workers=workers, scheduler=scheduler)
        try:
            with progress_bar(f"tiles ({executor.name})") as progress:
                summary = run_pipeline(c, scenes_, store, params=params, executor=executor, progress=progress)
        finally:
            executor.close()
        for w in jpeg_warnings(params, scenes_):
            err_console.print(f"warning: {w}", highlight=False, markup=False, soft_wrap=True)
        register = None
        if params.landcover:  # the site register is built from the land cover (and detections) of the tiles
            from borderwatch.sites import update_register

            register = update_register(c, store, (summary.param_hash, summary.versions_hash))
            for w in register.warnings:
                err_console.print(f"warning: {w}", highlight=False, markup=False, soft_wrap=True)
        with progress_bar("writing outputs") as progress:
            outputs = write_run_outputs(out_dir, c, scenes_, store, progress=progress,
                                        result_key=(summary.param_hash, summary.versions_hash) if params.detect or params.landcover else None,
                                        with_detections=params.detect)
    console.print(
        f"run {summary.run_id}: {summary.tiles} tiles x {len(summary.dates)} date(s); computed {summary.computed}, "
        f"skipped {summary.skipped} already done, {summary.without_imagery} without imagery; {summary.seconds:.1f} s"
    )
    if register is not None:
        n = register.summary
        console.print(f"crossing sites on {c.name}: {n['sites']} site(s) and {n['candidates']} candidate(s) "
                      f"(list them with 'borderwatch sites --store {store_file} --corridor \"{c.name}\"')",
                      highlight=False, markup=False)
    for p in outputs:
        console.print(f"wrote {p}")


# sites ------------------------------------------------------------------------------
@cli.command("sites")
@store_option
@click.option("--corridor", "corridor_spec", default=None,
              help="Corridor or stretch to list (e.g. yalu-upper[0:10]); default: the whole river the store holds sites for.")
@click.option("--out", "out_path", default=None, type=click.Path(dir_okay=False),
              help="Also write the register as FILE.csv or FILE.geojson.")
@click.option("--renumber", is_flag=True, default=False,
              help="Number the river's confirmed sites 1..N in river order again, as a new numbering edition. "
                   "Numbers published before stop applying; without this, numbers once given stay "
                   "(a site confirmed later between 12 and 13 is 12a).")
def sites(store_path, corridor_spec, out_path, renumber) -> None:
    """Print the crossing-site register in river order (1 = nearest the corridor origin) and the corridor summary.

    A number once given stays with its site; a site confirmed later between two numbered
    ones takes a letter (12a), so numbers already published keep pointing at the same place.
    """
    from borderwatch.outputs.sites import (
        analysed_length_km,
        corridor_register,
        corridors_with_sites,
        format_register,
        write_register,
    )
    from borderwatch.sites import register_name, renumber_register, summarise
    from borderwatch.store import Store

    if out_path is not None and Path(out_path).suffix.lower() not in (".csv", ".geojson"):
        raise InputError(out_path, "--out must end in .csv or .geojson")
    if not Path(store_path).exists():
        raise InputError(store_path, "no such store (run 'borderwatch run --landcover' or 'borderwatch demo' first)")
    with Store.open(store_path, create=False) as store:
        rivers = corridors_with_sites(store)
        if corridor_spec is None:
            if not rivers:
                why = _too_coarse(store) or " (run 'borderwatch run --landcover' first)"
                raise InputError(store_path, f"holds no crossing sites{why}")
            if len(rivers) > 1:
                raise InputError(store_path, f"holds sites for several rivers ({', '.join(rivers)}): choose one with --corridor")
            try:
                c = _corridor(rivers[0])
            except BorderwatchError:
                raise InputError(store_path, f"holds sites on {rivers[0]}, not a bundled corridor: give its file with --corridor") from None
        else:
            c = _corridor(corridor_spec)
        if renumber:
            changes = renumber_register(store, register_name(c))
            moved = [(sid, was, now) for sid, was, now in changes if was != now]
            if not changes:
                click.echo(f"no confirmed sites on {register_name(c)} to renumber; numbering left as it was")
            else:
                click.echo(f"renumbered {len(changes)} site(s) on {register_name(c)} as a new numbering edition; "
                           f"{len(moved)} changed number" + "".join(f"\n  {was or '-'} -> {now}  {sid}" for sid, was, now in moved))
        site_rows, observations = corridor_register(store, c)
        analysed = analysed_length_km(store, c)
        why = "" if site_rows else _too_coarse(store)
    if not site_rows:
        held = f" (it holds sites on {', '.join(rivers)})" if rivers else ""
        raise InputError(store_path, f"holds no crossing sites on {c.name}{held}{why}")
    countries = [c.left_country, c.right_country]
    # density over what was analysed, not over the whole river when runs covered a stretch
    length = analysed if analysed is not None and analysed < c.length_km - 0.01 else c.length_km
    summary = summarise(site_rows, observations, length, c.name)
    extent = f"{c.length_km:.1f} km" if length == c.length_km else f"{length:.1f} of {c.length_km:.1f} km analysed"
    click.echo(f"Crossing sites on {c.name} ({extent}), in river order; km along {register_name(c)}")
    click.echo(format_register(site_rows, observations, summary, countries))
    if out_path is not None:
        console.print(f"wrote {write_register(out_path, site_rows, observations, countries)}", highlight=False, markup=False)


def _too_coarse(store) -> str:
    """Why a store's runs made no sites when their tiles were too coarse for crossing evidence ("" otherwise)."""
    from borderwatch.sites.register import check_resolution

    return "".join(f"\n  {w}" for w in check_resolution(store.tile_results()))


# demo -------------------------------------------------------------------------------
@cli.command()
@click.option("--out", "out_dir", default="borderwatch-demo", show_default=True, type=click.Path(file_okay=False))
@click.option("--km", "km_text", default="0:10", show_default=True, help="Stretch of yalu-upper to render (km from Hyesan).")
@click.option("--gsd", type=float, default=0.5, show_default=True)
@click.option("--seed", type=int, default=7, show_default=True)
@click.option("--workers", type=int, default=1, show_default=True)
@click.option("--detect/--no-detect", default=True, show_default=True,
              help="Also run the vehicle detector (validated on these synthetic scenes; experimental on real imagery): "
                   "the sites then carry counts, scale and direction shares.")
def demo(out_dir, km_text, gsd, seed, workers, detect) -> None:
    """Render a synthetic stretch of the upper Yalu for 31 July and 13 September 2025 and run the pipeline on it."""
    from borderwatch.synth import DEFAULT_DATES, write_scenes

    from borderwatch.pipeline.run import check_detector_gsd

    out = Path(out_dir)
    a, b = parse_km(km_text)
    params = _params(gsd, 512.0, detect=detect, landcover=True)  # land cover validates on synthetic scenes
    if detect:
        check_detector_gsd(params)  # before the slow render
    c = _corridor("yalu-upper")
    dates = list(DEFAULT_DATES)
    scene_dir = out / "scenes"
    expected = [scene_dir / f"{d.isoformat()}.tif" for d in dates]
    # rendering is the slow part: reuse scenes rendered with the very same settings
    settings = {"km": [a, b], "gsd_m": gsd, "seed": seed, "dates": [d.isoformat() for d in dates], "version": __version__}
    stamp = scene_dir / "demo-settings.json"
    if all(p.exists() for p in expected) and stamp.exists() and json.loads(stamp.read_text()) == settings:
        console.print(f"reusing rendered scenes in {scene_dir}")
    else:
        stamp.unlink(missing_ok=True)
        with progress_bar("rendering synthetic scenes") as progress:
            write_scenes(c, km=(a, b), gsd_m=gsd, dates=dates, seed=seed, out_dir=scene_dir, progress=progress)
        stamp.write_text(json.dumps(settings))
    _run(f"yalu-upper[{a:g}:{b:g}]", [str(p) for p in expected], out, None, params, workers, None)
    console.print(f"open {out / 'index.html'} in a browser, {out / 'corridor.kml'} in Google Earth, {out / 'borderwatch.gpkg'} in QGIS")


cli.add_command(detect_cmd)
cli.add_command(train_cmd)
cli.add_command(evaluate_cmd)


def main(argv: list[str] | None = None) -> None:
    try:
        cli.main(args=argv, prog_name="borderwatch", standalone_mode=True)
    except BorderwatchError as exc:
        err_console.print(f"[red]borderwatch: error:[/red] {exc}", highlight=False, soft_wrap=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
