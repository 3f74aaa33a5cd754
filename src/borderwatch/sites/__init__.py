"""Crossing sites: clues from evidence and detections, grouped along the river into a numbered register.

    reg = update_register(corridor, store, (summary.param_hash, summary.versions_hash))
    reg.sites, reg.observations, reg.summary, reg.warnings
"""

from borderwatch.sites.cluster import SiteParams
from borderwatch.sites.numbering import SiteNumber, assign_numbers
from borderwatch.sites.register import Register, register_name, renumber_register, update_register
from borderwatch.sites.summary import summarise

__all__ = [
    "Register",
    "SiteNumber",
    "SiteParams",
    "assign_numbers",
    "register_name",
    "renumber_register",
    "summarise",
    "update_register",
]
