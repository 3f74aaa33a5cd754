"""The river's cross-section along the frame: width, wander, banks, roads, fence, valley.

All functions of absolute frame chainage ``s`` (metres) and the seed only, so
they are the same whichever window asks. ``side`` is +1 (left bank) or -1.
"""

from __future__ import annotations

import numpy as np

from borderwatch.synth.noise import fbm1, key, rand2, vnoise1

VILLAGE_SEG_M = 350.0


class Profile:
    def __init__(self, seed: int, fence_side: int):
        self.seed = seed
        self.fence_side = fence_side
        self.k = [key(seed, 100 + i) for i in range(16)]

    def half_width(self, s):
        """Half the wetted channel width: 30-100 m (river 60-200 m wide)."""
        f = fbm1(np.asarray(s) / 2600.0, self.k[0])
        return 30.0 + 70.0 * np.clip((f - 0.25) / 0.5, 0.0, 1.0) ** 1.2

    def wander(self, s):
        """Lateral shift of the channel centre from the border line (m)."""
        return 16.0 * (2.0 * vnoise1(np.asarray(s) / 900.0, self.k[1]) - 1.0)

    def braid(self, s):
        """How braided the channel is here, 0..1."""
        return np.clip(fbm1(np.asarray(s) / 3000.0, self.k[2]) * 1.6 - 0.3, 0.0, 1.0)

    def _side(self, s, side, i):
        a = fbm1(np.asarray(s) / 1700.0, self.k[i])
        b = fbm1(np.asarray(s) / 1700.0, self.k[i + 1])
        return np.where(np.asarray(side) > 0, a, b)

    def road_off(self, s, side):
        """Distance from the water edge to the bank road's centre line (m)."""
        return 32.0 + 190.0 * np.clip(self._side(s, side, 3) * 1.5 - 0.3, 0.0, 1.0)

    def beach(self, s, side):
        """Width of bare gravel between the water and the vegetation (m)."""
        return 3.0 + 14.0 * self._side(s * 1.7, side, 5)

    def valley(self, s, side):
        """Distance from the water edge to the forest line (m)."""
        return self.road_off(s, side) + 90.0 + 650.0 * np.clip(self._side(s * 1.3, side, 7) * 1.6 - 0.35, 0.0, 1.0)

    def fence_off(self, s):
        """Distance from the water edge to the fence on the fenced bank (m)."""
        return 18.0 + 6.0 * vnoise1(np.asarray(s) / 700.0, self.k[9])

    def village(self, seg, side) -> np.ndarray:
        """Whether a 350 m bank segment holds a village (bool array)."""
        return rand2(np.asarray(seg), np.asarray(side), self.k[10]) < 0.24
