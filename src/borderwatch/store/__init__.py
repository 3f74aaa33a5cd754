"""Store: the GeoPackage file that keeps every result traceable to scene, date, run and parameters."""

from borderwatch.store.geometry import from_blob, to_blob
from borderwatch.store.schema import JSON_COLUMNS, MIGRATIONS, Migration
from borderwatch.store.store import GEOMETRY_KEY, Store, corridor_record, utc_now

__all__ = [
    "GEOMETRY_KEY",
    "JSON_COLUMNS",
    "MIGRATIONS",
    "Migration",
    "Store",
    "corridor_record",
    "from_blob",
    "to_blob",
    "utc_now",
]
