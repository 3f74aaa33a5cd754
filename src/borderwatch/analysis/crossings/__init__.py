"""Crossing evidence per tile (cleared landings, tracks, bridges, bar camps, ford traces) and where detections stand."""

from borderwatch.analysis.crossings.evidence import (
    EVIDENCE_MAX_GSD_M,
    GROUNDS,
    KINDS,
    Evidence,
    EvidenceParams,
    RiverZones,
    coarse_classes,
    find_evidence,
    fine_cells,
    resolves_crossings,
)
from borderwatch.analysis.crossings.fence import FenceParams, find_fences
from borderwatch.analysis.crossings.ford import FordParams, find_ford_traces, find_ice_roads

__all__ = ["EVIDENCE_MAX_GSD_M", "GROUNDS", "KINDS", "Evidence", "EvidenceParams", "RiverZones", "coarse_classes", "find_evidence", "fine_cells", "resolves_crossings", "FordParams", "find_ford_traces", "find_ice_roads", "FenceParams", "find_fences"]
