"""Torch-free groundwork for the oriented-box vehicle detector.

Boxes and the heading convention (:mod:`.geometry`), class maps (:mod:`.classmap`),
label readers/writers (:mod:`.labels`, :mod:`.kit`), rotated NMS and tile merging
(:mod:`.nms`) and evaluation (:mod:`.metrics`); the bundled ONNX detector
(:mod:`.runtime`, :mod:`.sliced`, :mod:`.external`; no torch needed) and its
training (:mod:`.model`, :mod:`.train`, :mod:`.export`; need torch). Headings are degrees clockwise
from "up" in pixels (= from north on a north-up image), see :mod:`.geometry`.
"""

from .classmap import CLASSES, XVIEW_CLASSES, ClassMap, Target, UnknownClassError, normalize_name
from .geometry import (
    OrientedBox,
    PolygonError,
    angle_diff,
    axis_of,
    heading_from_axis,
    map_to_pixel_heading,
    pixel_to_map_heading,
    validate_polygon,
)
from .kit import KIT_AIS_GSD_M, KIT_AIS_NAMES, SequenceSplit, load_kit_ais, sequence_key, split_by_sequence
from .labels import (
    Detection,
    Label,
    LabelledImage,
    image_size,
    read_coco,
    read_dota,
    read_names,
    read_xview,
    read_yolo,
    write_dota,
    write_yolo,
)
from .metrics import ClassResult, CountResult, EvalResult, HeadingResult, average_precision, evaluate
from .nms import TileDetections, iou_matrix, merge_tiles, nms_detections, rotated_iou, rotated_nms
from .external import ExternalDetector
from .runtime import Detector, ModelDetection, as_rgb8, evaluate_detector
from .sliced import SliceStats, detect_raster, detect_source

__all__ = [
    "CLASSES", "XVIEW_CLASSES", "ClassMap", "Target", "UnknownClassError", "normalize_name",
    "OrientedBox", "PolygonError", "angle_diff", "axis_of", "heading_from_axis",
    "map_to_pixel_heading", "pixel_to_map_heading", "validate_polygon",
    "KIT_AIS_GSD_M", "KIT_AIS_NAMES", "SequenceSplit", "load_kit_ais", "sequence_key", "split_by_sequence",
    "Detection", "Label", "LabelledImage", "image_size", "read_coco", "read_dota", "read_names",
    "read_xview", "read_yolo", "write_dota", "write_yolo",
    "ClassResult", "CountResult", "EvalResult", "HeadingResult", "average_precision", "evaluate",
    "TileDetections", "iou_matrix", "merge_tiles", "nms_detections", "rotated_iou", "rotated_nms",
    "Detector", "ModelDetection", "ExternalDetector", "as_rgb8", "evaluate_detector",
    "SliceStats", "detect_raster", "detect_source",
]
