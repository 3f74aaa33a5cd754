"""Sun position and crop season for a capture date (10:30 local, upper Yalu latitude)."""

from __future__ import annotations

import math
from datetime import date

LAT_DEG = 41.6
SOLAR_HOUR = 10.05  # 10:30 KST at ~128.2 E is about 10:03 local solar time


def sun_position(d: date, lat_deg: float = LAT_DEG, solar_hour: float = SOLAR_HOUR) -> tuple[float, float]:
    """(azimuth deg clockwise from north, elevation deg) of the sun."""
    doy = d.timetuple().tm_yday
    decl = math.radians(23.44) * math.sin(2 * math.pi * (doy - 81) / 365.0)
    lat = math.radians(lat_deg)
    h = math.radians(15.0 * (solar_hour - 12.0))
    sin_el = math.sin(lat) * math.sin(decl) + math.cos(lat) * math.cos(decl) * math.cos(h)
    el = math.asin(sin_el)
    az = math.atan2(math.sin(h), math.cos(h) * math.sin(lat) - math.tan(decl) * math.cos(lat))
    return (math.degrees(az) + 180.0) % 360.0, math.degrees(el)


def shadow_vector(d: date) -> tuple[float, float]:
    """Ground displacement (dx east, dy north) of a shadow per metre of object height."""
    az, el = sun_position(d)
    k = 1.0 / math.tan(math.radians(max(el, 5.0)))
    # shadows point away from the sun
    return -math.sin(math.radians(az)) * k, -math.cos(math.radians(az)) * k


def phenology(d: date) -> dict[str, float]:
    """Season knobs in [0, 1]: green (crop vigour), ripe (yellowing), harvested (share of fields cut), snow,
    and ice (how far river ice has grown out from the banks; 1 = frozen across but for open leads).

    The upper Yalu at Hyesan freezes over in December and breaks up in late March: shore ice grows from
    the first days of December, the river is closed by about 20 December and open again by early April.
    """
    doy = d.timetuple().tm_yday

    def ramp(x, a, b):
        return min(1.0, max(0.0, (x - a) / (b - a)))

    green = ramp(doy, 130, 185) * (1.0 - ramp(doy, 235, 280))
    ripe = ramp(doy, 215, 262) * (1.0 - ramp(doy, 290, 320))
    harvested = ramp(doy, 238, 272) if 100 <= doy < 330 else 1.0
    leaf = ramp(doy, 110, 150) * (1.0 - ramp(doy, 280, 305))  # deciduous canopy
    autumn = ramp(doy, 245, 285) * (1.0 - ramp(doy, 300, 315))
    snow = 1.0 if (doy < 75 or doy > 330) else 0.0
    ice = ramp(doy, 335, 355) if doy > 180 else 1.0 - ramp(doy, 75, 95)
    return {"green": green, "ripe": ripe, "harvested": harvested, "leaf": leaf, "autumn": autumn, "snow": snow,
            "ice": ice}
