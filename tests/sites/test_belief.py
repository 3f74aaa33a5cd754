"""How likely a detection inside a site is a vehicle: by detector, score and class."""

from __future__ import annotations

import numpy as np
import pytest

from borderwatch.sites.belief import ScoreBelief, ScoreCurve


def test_the_bundled_detectors_belief_rises_with_score_and_others_have_none():
    from borderwatch.sites.belief import belief_for

    b = belief_for("borderwatch-vehicles@0.2.2+front-2+screen-1")
    r = b([0.35, 0.4, 0.45, 0.5, 0.6, 0.9])
    assert np.all(np.diff(r) >= 0) and r[0] < 0.4 and r[-1] == 1.0
    assert belief_for("borderwatch-vehicles@9.9") is None and belief_for(None) is None


def test_the_shipped_detector_has_a_belief_table():
    """A new bundled model needs its own table (scripts/calibrate_detections.py): without one its direction
    shares would silently count every detection fully."""
    from borderwatch.analysis.detect.runtime import Detector
    from borderwatch.sites.belief import belief_for

    name = Detector.load_default().name
    b = belief_for(name)
    assert b is not None, f"no score belief for the bundled {name}"
    r = b([0.35, 0.4, 0.45, 0.5, 0.6, 0.9])
    assert np.all(np.diff(r) >= 0) and r[0] < 0.4 and r[-1] > 0.9


def test_a_class_with_its_own_curve_uses_it_and_the_others_the_shared_one():
    shared = ScoreCurve((0.4, 0.6), (0.3, 0.9))
    trucks = ScoreCurve((0.4, 0.6), (0.9, 1.0))
    b = ScoreBelief("d@1", shared, "test", per_class=(("large_vehicle", trucks),))
    got = b([0.4, 0.4, 0.5, 0.4], ["large_vehicle", "small_vehicle", "large_vehicle", "heavy_equipment"])
    assert got == pytest.approx([0.9, 0.3, 0.95, 0.3])
    assert b([0.4, 0.5]) == pytest.approx([0.3, 0.6])  # no classes given: the shared curve
    assert b.curve_for("large_vehicle") is trucks and b.curve_for("small_vehicle") is shared
    assert "per class: large_vehicle" in b.label
    with pytest.raises(ValueError, match="2 classes for 3 scores"):
        b([0.4, 0.5, 0.6], ["large_vehicle", "small_vehicle"])


@pytest.mark.parametrize("scores, belief, match", [
    ((0.4, 0.6), (0.5,), "as many beliefs as scores"),
    ((0.6, 0.4), (0.5, 0.9), "must rise"),
    ((0.4, 0.6), (0.5, 1.2), "between 0 and 1"),
])
def test_a_malformed_curve_is_refused(scores, belief, match):
    with pytest.raises(ValueError, match=match):
        ScoreCurve(scores, belief)


def test_the_shipped_detectors_faint_trucks_are_trusted_more_than_its_faint_cars():
    """Measured on the development worlds: at 0.35-0.45 nearly every "truck" is a truck, most "cars" are clutter."""
    from borderwatch.analysis.detect.runtime import Detector
    from borderwatch.sites.belief import belief_for

    b = belief_for(Detector.load_default().name)
    trucks, cars = b([0.4] * 2, ["large_vehicle", "small_vehicle"])
    assert trucks >= 0.7 and cars <= 0.1
    for cls in ("small_vehicle", "large_vehicle", "heavy_equipment"):
        r = b.curve_for(cls)([0.35, 0.4, 0.45, 0.5, 0.6, 0.9])
        assert np.all(np.diff(r) >= 0) and r[-1] > 0.9, cls
