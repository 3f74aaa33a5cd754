"""Store schema: GeoPackage core tables, borderwatch tables, and the ordered migrations.

Each migration is frozen once released: a later schema version adds a new
migration (ALTER TABLE, new tables) instead of editing an older one, so that
every store, whatever its age, reaches the same schema.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass

GPKG_APPLICATION_ID = 0x47504B47  # "GPKG"
GPKG_USER_VERSION = 10300  # GeoPackage 1.3.0
GEOM_COLUMN = "geom"
META_TABLE = "bw_meta"

# The value GDAL recognises as "current timestamp" for DATETIME defaults.
NOW_SQL = "(strftime('%Y-%m-%dT%H:%M:%fZ','now'))"

WGS84_WKT = (
    'GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563,'
    'AUTHORITY["EPSG","7030"]],AUTHORITY["EPSG","6326"]],PRIMEM["Greenwich",0,'
    'AUTHORITY["EPSG","8901"]],UNIT["degree",0.0174532925199433,AUTHORITY["EPSG","9122"]],'
    'AXIS["Latitude",NORTH],AXIS["Longitude",EAST],AUTHORITY["EPSG","4326"]]'
)

RTREE_EXTENSION_URL = "http://www.geopackage.org/spec120/#extension_rtree"

_GPKG_CORE = [
    """CREATE TABLE IF NOT EXISTS gpkg_spatial_ref_sys (
        srs_name TEXT NOT NULL,
        srs_id INTEGER PRIMARY KEY,
        organization TEXT NOT NULL,
        organization_coordsys_id INTEGER NOT NULL,
        definition TEXT NOT NULL,
        description TEXT)""",
    f"""CREATE TABLE IF NOT EXISTS gpkg_contents (
        table_name TEXT NOT NULL PRIMARY KEY,
        data_type TEXT NOT NULL,
        identifier TEXT UNIQUE,
        description TEXT DEFAULT '',
        last_change DATETIME NOT NULL DEFAULT {NOW_SQL},
        min_x DOUBLE, min_y DOUBLE, max_x DOUBLE, max_y DOUBLE,
        srs_id INTEGER,
        CONSTRAINT fk_gc_r_srs_id FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys(srs_id))""",
    """CREATE TABLE IF NOT EXISTS gpkg_geometry_columns (
        table_name TEXT NOT NULL,
        column_name TEXT NOT NULL,
        geometry_type_name TEXT NOT NULL,
        srs_id INTEGER NOT NULL,
        z TINYINT NOT NULL,
        m TINYINT NOT NULL,
        CONSTRAINT pk_geom_cols PRIMARY KEY (table_name, column_name),
        CONSTRAINT uk_gc_table_name UNIQUE (table_name),
        CONSTRAINT fk_gc_tn FOREIGN KEY (table_name) REFERENCES gpkg_contents(table_name),
        CONSTRAINT fk_gc_srs FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys (srs_id))""",
    """CREATE TABLE IF NOT EXISTS gpkg_extensions (
        table_name TEXT,
        column_name TEXT,
        extension_name TEXT NOT NULL,
        definition TEXT NOT NULL,
        scope TEXT NOT NULL,
        CONSTRAINT ge_tce UNIQUE (table_name, column_name, extension_name))""",
]

_SRS_ROWS = [
    ("Undefined cartesian SRS", -1, "NONE", -1, "undefined", "undefined cartesian coordinate reference system"),
    ("Undefined geographic SRS", 0, "NONE", 0, "undefined", "undefined geographic coordinate reference system"),
    ("WGS 84 geodetic", 4326, "EPSG", 4326, WGS84_WKT,
     "longitude/latitude coordinates in decimal degrees on the WGS 84 spheroid"),
]


@dataclass(frozen=True)
class Table:
    """A table as created by one migration.

    ``columns`` are (name, GeoPackage type + constraints) after the implicit
    ``fid`` primary key and ``geom`` column; ``geometry_type`` None makes an
    'attributes' table.
    """

    name: str
    description: str
    columns: tuple[tuple[str, str], ...]
    geometry_type: str | None = None
    constraints: tuple[str, ...] = ()


def quote(name: str) -> str:
    """An SQL identifier, double-quoted (column names such as "class" are keywords)."""
    return '"' + name.replace('"', '""') + '"'


def create_gpkg_core(conn: sqlite3.Connection) -> None:
    """The mandatory GeoPackage tables and SRS rows (kept if another application made them)."""
    for ddl in _GPKG_CORE:
        conn.execute(ddl)
    conn.executemany(
        "INSERT OR IGNORE INTO gpkg_spatial_ref_sys "
        "(srs_name, srs_id, organization, organization_coordsys_id, definition, description) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        _SRS_ROWS,
    )
    conn.execute(f"PRAGMA application_id = {GPKG_APPLICATION_ID}")
    (user_version,) = conn.execute("PRAGMA user_version").fetchone()
    if user_version < GPKG_USER_VERSION:
        conn.execute(f"PRAGMA user_version = {GPKG_USER_VERSION}")


def create_table(conn: sqlite3.Connection, table: Table) -> None:
    """Create a table, register it in gpkg_contents and, if spatial, add its R-tree index."""
    cols = ["fid INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL"]
    if table.geometry_type:
        cols.append(f"{GEOM_COLUMN} {table.geometry_type}")
    cols += [f"{quote(name)} {decl}" for name, decl in table.columns]
    cols += list(table.constraints)
    conn.execute(f"CREATE TABLE {quote(table.name)} (\n  " + ",\n  ".join(cols) + "\n)")
    data_type = "features" if table.geometry_type else "attributes"
    srs = 4326 if table.geometry_type else None
    conn.execute(
        "INSERT INTO gpkg_contents (table_name, data_type, identifier, description, srs_id) "
        "VALUES (?, ?, ?, ?, ?)",
        (table.name, data_type, table.name, table.description, srs),
    )
    if table.geometry_type:
        conn.execute(
            "INSERT INTO gpkg_geometry_columns VALUES (?, ?, ?, 4326, 0, 0)",
            (table.name, GEOM_COLUMN, table.geometry_type),
        )
        create_rtree(conn, table.name, GEOM_COLUMN)


def create_rtree(conn: sqlite3.Connection, t: str, c: str) -> None:
    """The gpkg_rtree_index extension (GPKG 1.3 Annex F.3): virtual table, fill, triggers."""
    r = f"rtree_{t}_{c}"
    qt, qc, qr = quote(t), quote(c), quote(r)
    conn.execute(f"CREATE VIRTUAL TABLE {qr} USING rtree(id, minx, maxx, miny, maxy)")
    conn.execute(
        f"INSERT OR REPLACE INTO {qr} SELECT fid, ST_MinX({qc}), ST_MaxX({qc}), ST_MinY({qc}), "
        f"ST_MaxY({qc}) FROM {qt} WHERE {qc} NOT NULL AND NOT ST_IsEmpty({qc})"
    )
    ins = (
        f"INSERT OR REPLACE INTO {qr} VALUES (NEW.fid, ST_MinX(NEW.{qc}), ST_MaxX(NEW.{qc}), "
        f"ST_MinY(NEW.{qc}), ST_MaxY(NEW.{qc}))"
    )
    triggers = {
        "insert": (
            f"AFTER INSERT ON {qt} WHEN (new.{qc} NOT NULL AND NOT ST_IsEmpty(NEW.{qc}))",
            ins,
        ),
        "update1": (
            f"AFTER UPDATE OF {qc} ON {qt} WHEN OLD.fid = NEW.fid AND "
            f"(NEW.{qc} NOTNULL AND NOT ST_IsEmpty(NEW.{qc}))",
            ins,
        ),
        "update2": (
            f"AFTER UPDATE OF {qc} ON {qt} WHEN OLD.fid = NEW.fid AND "
            f"(NEW.{qc} ISNULL OR ST_IsEmpty(NEW.{qc}))",
            f"DELETE FROM {qr} WHERE id = OLD.fid",
        ),
        "update3": (
            f"AFTER UPDATE OF {qc} ON {qt} WHEN OLD.fid != NEW.fid AND "
            f"(NEW.{qc} NOTNULL AND NOT ST_IsEmpty(NEW.{qc}))",
            f"DELETE FROM {qr} WHERE id = OLD.fid; " + ins,
        ),
        "update4": (
            f"AFTER UPDATE ON {qt} WHEN OLD.fid != NEW.fid AND "
            f"(NEW.{qc} ISNULL OR ST_IsEmpty(NEW.{qc}))",
            f"DELETE FROM {qr} WHERE id IN (OLD.fid, NEW.fid)",
        ),
        "delete": (
            f"AFTER DELETE ON {qt} WHEN old.{qc} NOT NULL",
            f"DELETE FROM {qr} WHERE id = OLD.fid",
        ),
    }
    for suffix, (when, body) in triggers.items():
        conn.execute(f"CREATE TRIGGER {quote(r + '_' + suffix)} {when} BEGIN {body}; END")
    conn.execute(
        "INSERT INTO gpkg_extensions VALUES (?, ?, 'gpkg_rtree_index', ?, 'write-only')",
        (t, c, RTREE_EXTENSION_URL),
    )


# ---------------------------------------------------------------- schema v1 ---
_CREATED = ("created_at", f"DATETIME NOT NULL DEFAULT {NOW_SQL}")

V1_TABLES: tuple[Table, ...] = (
    Table(
        META_TABLE,
        "borderwatch schema version: one row per migration applied",
        (
            ("version", "INTEGER NOT NULL UNIQUE"),
            ("name", "TEXT NOT NULL"),
            ("software_version", "TEXT NOT NULL"),
            ("applied_at", f"DATETIME NOT NULL DEFAULT {NOW_SQL}"),
        ),
    ),
    Table(
        "corridors",
        "Border river corridors (line oriented from the origin, lon/lat)",
        (
            ("name", "TEXT NOT NULL UNIQUE"),
            ("crs", "TEXT"),
            ("left_country", "TEXT"),
            ("right_country", "TEXT"),
            ("left_width_m", "REAL"),
            ("right_width_m", "REAL"),
            ("origin", "TEXT"),
            ("length_km", "REAL"),
            ("source", "TEXT"),
            ("attribution", "TEXT"),
            ("params", "TEXT"),
            _CREATED,
            ("updated_at", f"DATETIME NOT NULL DEFAULT {NOW_SQL}"),
        ),
        "LINESTRING",
    ),
    Table(
        "scenes",
        "Registered images: capture date, provenance and valid-data footprint",
        (
            ("scene_id", "TEXT NOT NULL UNIQUE"),
            ("path", "TEXT NOT NULL"),
            ("sha256", "TEXT NOT NULL UNIQUE"),
            ("capture_date", "DATE NOT NULL"),
            ("date_source", "TEXT"),
            ("provider", "TEXT"),
            ("sensor", "TEXT"),
            ("gsd_m", "REAL"),
            ("band_count", "INTEGER"),
            ("band_names", "TEXT"),
            ("dtype", "TEXT"),
            ("width", "INTEGER"),
            ("height", "INTEGER"),
            ("crs_wkt", "TEXT"),
            ("footprint_wkt", "TEXT"),
            ("licence", "TEXT"),
            ("sidecar", "TEXT"),
            ("extra", "TEXT"),
            ("transform", "TEXT"),
            ("member", "TEXT"),
            _CREATED,
        ),
        "MULTIPOLYGON",
    ),
    Table(
        "runs",
        "Analysis runs: parameters and software/model versions",
        (
            ("run_id", "TEXT NOT NULL UNIQUE"),
            ("corridor", "TEXT NOT NULL REFERENCES corridors(name)"),
            ("started_at", "DATETIME NOT NULL"),
            ("finished_at", "DATETIME"),
            ("status", "TEXT NOT NULL"),
            ("parameters", "TEXT"),
            ("software_version", "TEXT"),
            ("model_versions", "TEXT"),
            ("host", "TEXT"),
            _CREATED,
        ),
    ),
    Table(
        "tile_results",
        "Per-tile analysis results; the key makes reruns skip finished tiles",
        (
            ("tile_id", "TEXT NOT NULL"),
            ("date", "DATE NOT NULL"),
            ("param_hash", "TEXT NOT NULL"),
            ("versions_hash", "TEXT NOT NULL"),
            ("run_id", "TEXT NOT NULL REFERENCES runs(run_id)"),
            ("chainage_km", "REAL"),
            ("stats", "TEXT"),
            _CREATED,
        ),
        "POLYGON",
        ("CONSTRAINT uq_tile_results_key UNIQUE (tile_id, date, param_hash, versions_hash)",),
    ),
    Table(
        "detections",
        "Detected objects (boats, rafts, tracks...) in one scene",
        (
            ("scene_id", "TEXT REFERENCES scenes(scene_id)"),
            ("date", "DATE"),
            ("tile_id", "TEXT"),
            ("run_id", "TEXT REFERENCES runs(run_id)"),
            ("class", "TEXT NOT NULL"),
            ("subclass", "TEXT"),
            ("score", "REAL"),
            ("length_m", "REAL"),
            ("width_m", "REAL"),
            ("heading_deg", "REAL"),
            ("heading_conf", "REAL"),
            ("country", "TEXT"),
            ("chainage_km", "REAL"),
            ("dist_water_m", "REAL"),
            _CREATED,
        ),
        "POLYGON",
    ),
    Table(
        "evidence",
        "Evidence of crossing activity (paths, landings, disturbed banks...)",
        (
            ("kind", "TEXT NOT NULL"),
            ("score", "REAL"),
            ("scene_id", "TEXT REFERENCES scenes(scene_id)"),
            ("date", "DATE"),
            ("run_id", "TEXT REFERENCES runs(run_id)"),
            ("country", "TEXT"),
            ("chainage_km", "REAL"),
            ("details", "TEXT"),
            _CREATED,
        ),
        "GEOMETRY",
    ),
    Table(
        "sites",
        "Crossing sites with stable ids, numbered in river order",
        (
            ("site_id", "TEXT NOT NULL UNIQUE"),
            ("number", "INTEGER"),
            ("chainage_km", "REAL"),
            ("kind", "TEXT"),
            ("scale", "TEXT"),
            ("bank_evidence", "TEXT"),
            ("status", "TEXT"),
            _CREATED,
        ),
        "POLYGON",
    ),
    Table(
        "observations",
        "What was seen at a site on one date",
        (
            ("site_id", "TEXT NOT NULL REFERENCES sites(site_id)"),
            ("date", "DATE NOT NULL"),
            ("run_id", "TEXT REFERENCES runs(run_id)"),
            ("counts", "TEXT"),
            ("activity_score", "REAL"),
            ("scale", "TEXT"),
            _CREATED,
        ),
    ),
    Table(
        "reviews",
        "Human verdicts on stored rows (target table and id)",
        (
            ("target_table", "TEXT NOT NULL"),
            ("target_id", "TEXT NOT NULL"),
            ("reviewer", "TEXT NOT NULL"),
            ("verdict", "TEXT NOT NULL"),
            ("comment", "TEXT"),
            ("reviewed_at", f"DATETIME NOT NULL DEFAULT {NOW_SQL}"),
            _CREATED,
        ),
    ),
)


def _migrate_v1(conn: sqlite3.Connection) -> None:
    create_gpkg_core(conn)
    existing = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    clash = [t.name for t in V1_TABLES if t.name in existing]
    if clash:
        raise sqlite3.OperationalError(f"table(s) {', '.join(clash)} already exist")
    for table in V1_TABLES:
        create_table(conn, table)


@dataclass(frozen=True)
class Migration:
    """One schema step: ``apply`` runs inside the store's migration transaction."""

    version: int
    name: str
    apply: Callable[[sqlite3.Connection], None]


#: Columns added by schema version 2 (crossing sites): table -> [(column, declaration)].
V2_COLUMNS: dict[str, list[tuple[str, str]]] = {
    "detections": [("ground", "TEXT")],  # land cover under the centre: water, sandbar, road...
    "evidence": [("tile_id", "TEXT"), ("param_hash", "TEXT"), ("versions_hash", "TEXT")],
    "sites": [
        ("corridor", "TEXT"),
        ("score", "REAL"),
        ("first_seen", "DATE"),
        ("last_seen", "DATE"),
        ("details", "TEXT"),
    ],
}


def _migrate_v2(conn: sqlite3.Connection) -> None:
    for table, cols in V2_COLUMNS.items():
        for name, decl in cols:
            conn.execute(f"ALTER TABLE {quote(table)} ADD COLUMN {quote(name)} {decl}")


#: The numbering ledger of schema version 3: every site number given, never given again in its edition.
SITE_NUMBERS = Table(
    "site_numbers",
    "Site numbers given, per river and numbering edition: a number once given names that site only",
    (
        ("corridor", "TEXT NOT NULL"),
        ("edition", "INTEGER NOT NULL"),
        ("label", "TEXT NOT NULL"),
        ("number", "INTEGER NOT NULL"),
        ("suffix", "TEXT NOT NULL DEFAULT ''"),
        ("site_id", "TEXT NOT NULL"),
        ("chainage_km", "REAL"),
        _CREATED,
    ),
    constraints=("UNIQUE (corridor, edition, label)",),
)


def _migrate_v3(conn: sqlite3.Connection) -> None:
    """Site labels (12, 12a) and the numbering ledger, seeded with the numbers already given."""
    conn.execute('ALTER TABLE "sites" ADD COLUMN "label" TEXT')
    conn.execute('UPDATE "sites" SET "label" = CAST("number" AS TEXT) WHERE "number" IS NOT NULL')
    create_table(conn, SITE_NUMBERS)
    conn.execute(
        'INSERT INTO "site_numbers" (corridor, edition, label, number, suffix, site_id, chainage_km) '
        'SELECT COALESCE(corridor, \'\'), 1, CAST("number" AS TEXT), "number", \'\', site_id, chainage_km '
        'FROM "sites" WHERE "number" IS NOT NULL ORDER BY "number"'
    )


def _migrate_v4(conn: sqlite3.Connection) -> None:
    """What surrounds each detection: the share of built-up ground near it (pipeline.tasks, vehicles left out)."""
    conn.execute('ALTER TABLE "detections" ADD COLUMN "built_up_around" REAL')


def _migrate_v5(conn: sqlite3.Connection) -> None:
    """The detector that made each detection: the bundled model, its JPEG variant (JPEG-compressed scenes) or a
    user's own file, by name and version (pipeline.tasks.detector_for)."""
    conn.execute('ALTER TABLE "detections" ADD COLUMN "detector" TEXT')


MIGRATIONS: list[Migration] = [
    Migration(
        1,
        "initial schema: corridors, scenes, runs, tile_results, detections, evidence, sites, observations, reviews",
        _migrate_v1,
    ),
    Migration(
        2,
        "crossing sites: ground under detections, evidence keyed by tile and result, site score and dates",
        _migrate_v2,
    ),
    Migration(
        3,
        "stable site numbers: site labels (12, 12a) and the ledger of numbers given",
        _migrate_v3,
    ),
    Migration(4, "surroundings of detections: the share of built-up ground around each", _migrate_v4),
    Migration(5, "the detector that made each detection (the bundled model or its JPEG variant)", _migrate_v5),
]

# JSON-encoded TEXT columns, per table (the current schema).
JSON_COLUMNS: dict[str, frozenset[str]] = {
    "corridors": frozenset({"params"}),
    "scenes": frozenset({"band_names", "extra", "transform"}),
    "runs": frozenset({"parameters", "model_versions"}),
    "tile_results": frozenset({"stats"}),
    "evidence": frozenset({"details"}),
    "observations": frozenset({"counts"}),
    "sites": frozenset({"details"}),
}
