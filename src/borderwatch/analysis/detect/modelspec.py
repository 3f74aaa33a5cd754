"""Torch-free constants of the bundled detector: model GSD, output stride, subclasses."""

from __future__ import annotations

__all__ = ["MODEL_GSD_M", "STRIDE", "SUBCLASSES", "SUBCLASS_PARENT"]

MODEL_GSD_M = 0.5
STRIDE = 2
#: Subclasses the model predicts, each with its parent class.
SUBCLASS_PARENT: dict[str, str] = {
    "car": "small_vehicle", "van": "small_vehicle", "pickup": "small_vehicle", "minibus": "small_vehicle",
    "truck": "large_vehicle", "dump_truck": "large_vehicle", "truck_trailer": "large_vehicle", "bus": "large_vehicle",
    "excavator": "heavy_equipment", "loader": "heavy_equipment", "bulldozer": "heavy_equipment",
    "crane": "heavy_equipment",
}
SUBCLASSES: tuple[str, ...] = tuple(SUBCLASS_PARENT)
