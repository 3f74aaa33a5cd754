"""Synthetic multi-date imagery of a border-river corridor, with ground truth.

For demos, tests, benchmarks and detector training only: analysis code must
never import this package.

Public API::

    world = SynthWorld(corridor, seed=7, dates=[date(2025, 7, 31), date(2025, 9, 13)])
    rgb = world.render(bounds, gsd_m, d)          # uint8 (3, H, W), north-up, every pixel >= 1
    rgb, lc = world.render_with_landcover(bounds, gsd_m, d)   # + land-cover codes (palette.LANDCOVER)
    world.sites(km_range=None) / world.objects(d, km_range=None)   # truth dicts (corridor CRS)
    write_scenes(corridor, km=(0, 10), gsd_m=0.5, dates=[...], seed=7, out_dir=DIR, progress=None)

How the world is built
- Frame: the corridor's *parent* line, smoothed (Chaikin) and resampled every 20 m, gives
  along/across coordinates (s, o) for any point; s is absolute on the parent line, so a
  stretch and its whole corridor draw the same ground. The river, bank strips, fence, roads,
  field rows and villages are functions of (s, o) and the seed; textures are value noise on
  world-aligned lattices. Pixel weights come from absolute pixel indices and every polygon is
  drawn on a private patch, so any window is seamless (bit-identical to a bigger render).
- Cross-section (per side): water (60-200 m wide, braided: gravel bars and vegetated islands
  from anisotropic noise), gravel beach, riparian grass, the fence on the KP bank (posts every
  3 m, gaps at crossings), the bank road (KP: dirt; CN: paved with a dashed centre line),
  floodplain and valley fields (crop per parcel, green in July, ripening/harvested in
  September), villages in 350 m segments (KP grey/white/orange roofs, CN blue/red), and forest
  on ridged, sun-shaded hills beyond the valley edge.
- Sites: the river is cut into 3 km chunks (seeded by (seed, chunk)); each holds one primary
  site, its kind rotating ford -> bridge -> sandbar_camp -> parking_field along the river, at a
  random chainage, and in half the chunks an extra small ford. A site's pattern over the world's
  dates is one of steady / appears (inactive on the first date) / grows (small, then large) /
  quiet (inactive on the last date); parking fields always appear (crops on the first date,
  a lot of ~60 large vehicles later). Sandbar camps widen the river and plant a cleared sandbar
  joined to one bank by a ford and to the other by a bridge.
- Objects per site and date: convoys of identical trucks queued on the tracks (facing the water
  or away from it, on both banks), trucks and excavators in the water at fords, trucks on
  bridges, ~20 vehicles on camp sandbars, rows of trucks/buses/trailers (some carrying cars) on
  parking lots (a lot is a rectangle in the straight frame tangent to the river at its site, not
  bent with the river, so its rows stay whole on a bend), loaders/excavators/bulldozers. Distractors: rocks on bars (same on every date),
  boats, cars in villages, tractors/combines in fields far from the water (these move between
  dates).

Truth semantics
- sites: ``scale`` is the largest state over the dates (large > small > inactive);
  ``scale_by_date`` gives it per ISO date; ``active_dates`` lists dates not inactive;
  ``pattern`` is how the site changes. Geometry spans both banks up to the roads and the water.
- objects: ``class`` small_vehicle / large_vehicle / heavy_equipment, or ``distractor`` with
  ``subclass`` boat / rock / tractor / combine. ``role`` is crossing (at a site) or distractor
  (village cars are small_vehicle with role distractor and site_id null). ``heading_deg`` is
  where the front points (0 = north, clockwise). ``bank`` is the country of the bank for objects
  on land, "water" for anything inside the river channel (in the water, on a bar or camp
  sandbar, on a bridge); ``on`` says which (land / water / sandbar / bridge).
"""

from borderwatch.synth.scenes import write_scenes
from borderwatch.synth.world import DEFAULT_DATES, SynthWorld

__all__ = ["DEFAULT_DATES", "SynthWorld", "write_scenes"]
