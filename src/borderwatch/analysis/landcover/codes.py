"""Land-cover code table shared by the classifier, its truth and its users.

Codes match the synthetic generator's truth rasters, so scores need no remapping.
"""

from __future__ import annotations

#: bump when features, parameters or post-processing change (stored with results)
LANDCOVER_VERSION = "lc-mlp-cnn-7"

NODATA, WATER, SANDBAR, DISTURBED, VEGETATION, FOREST, BUILT_UP, ROAD, ICE = range(9)

#: code -> name (0 = nodata: outside the scene's valid pixels)
CODES: dict[int, str] = {
    NODATA: "nodata",
    WATER: "water",
    SANDBAR: "sandbar",  # sand / gravel bars and bare beaches by the water
    DISTURBED: "disturbed",  # cleared or churned ground: tracks, lots, fresh earth
    VEGETATION: "vegetation",  # grass, crops (growing or harvested), vegetated islands
    FOREST: "forest",
    BUILT_UP: "built_up",  # roofs, yards, bridge decks
    ROAD: "road",
    ICE: "ice",  # a frozen river, snow-covered or bare: the channel is still there, but crossings need no ford
}
NAMES: dict[str, int] = {v: k for k, v in CODES.items()}
