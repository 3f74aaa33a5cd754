"""Crossing evidence per tile (cleared landings, tracks, bridges, bar camps) and where detections stand."""

from borderwatch.analysis.crossings.evidence import (
    GROUNDS,
    KINDS,
    Evidence,
    EvidenceParams,
    RiverZones,
    coarse_classes,
    find_evidence,
)

__all__ = ["GROUNDS", "KINDS", "Evidence", "EvidenceParams", "RiverZones", "coarse_classes", "find_evidence"]
