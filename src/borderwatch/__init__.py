"""borderwatch: evidence of cross-border crossings from dated imagery of a border river.

Data flows one way: imagery -> analysis -> sites -> outputs, with the store
(GeoPackage) keeping every result traceable to its scene, date, run and parameters.
"""

__version__ = "0.1.0"
