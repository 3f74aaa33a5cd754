"""The Store: one GeoPackage file holding corridors, scenes, runs and every result.

Written with Python's sqlite3 only (no spatialite) so it opens in QGIS and GDAL.
All geometries are EPSG:4326 lon/lat. Every write runs in a transaction, and the
file uses SQLite's rollback journal (not WAL): after close() the store is one
self-contained file that users can copy, and a killed process leaves a hot
journal that SQLite rolls back on the next open.

Opening: a missing or empty file, or another application's GeoPackage, gets the
borderwatch tables only with ``create=True``; any other SQLite database or
non-SQLite file is refused with a StoreError, as is a store whose schema is newer
than this code. An older store is migrated in one transaction.

A Store wraps one sqlite3 connection: use it from one thread; open one per
process (SQLite serialises writers; a busy writer is waited for 30 s).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
import socket
import sqlite3
import uuid
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from shapely import wkt as shapely_wkt
from shapely.geometry import LineString, MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

from borderwatch import __version__
from borderwatch.errors import StoreError
from borderwatch.imagery.scene import Scene

from . import schema
from .geometry import GeometryBlobError, check_lonlat, from_blob, register_functions, to_blob
from .schema import GEOM_COLUMN, META_TABLE, quote

_SQLITE_MAGIC = b"SQLite format 3\x00"
GEOMETRY_KEY = "geometry"  # the key that holds the shapely geometry in row dicts

_SCENE_TUPLES = ("band_names", "transform")  # tuple fields of Scene, stored as JSON lists
_CORRIDOR_FIELDS = (
    "name", "crs", "left_country", "right_country", "left_width_m", "right_width_m", "origin",
    "length_km", "source", "attribution", "params",
)
_TILE_FIELDS = ("tile_id", "date", "param_hash", "versions_hash", "run_id", "chainage_km", "stats", GEOMETRY_KEY)
_AUTO_COLUMNS = ("fid", "created_at")

# Declared geometry type -> shapely geom_type values accepted (singles are promoted to multi).
_ACCEPTS = {
    "POINT": {"Point"},
    "LINESTRING": {"LineString"},
    "POLYGON": {"Polygon"},
    "MULTIPOINT": {"MultiPoint", "Point"},
    "MULTILINESTRING": {"MultiLineString", "LineString"},
    "MULTIPOLYGON": {"MultiPolygon", "Polygon"},
}


def utc_now() -> str:
    """The current UTC time in the GeoPackage DATETIME format (ms, 'Z')."""
    return _fmt_datetime(dt.datetime.now(dt.timezone.utc))


def _fmt_datetime(value: dt.datetime) -> str:
    if value.tzinfo is not None:
        value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def _plain_json(value: Any) -> Any:
    """JSON-ready data: numpy scalars/arrays to Python, tuples to lists, NaN/inf to null."""
    if isinstance(value, np.ndarray):
        return _plain_json(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {str(k): _plain_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain_json(v) for v in value]
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return value


class Store:
    """A borderwatch GeoPackage. Open with ``Store.open``; use as a context manager."""

    def __init__(self, path: Path, conn: sqlite3.Connection):
        self.path = path
        self._conn = conn
        self._depth = 0
        self._columns: dict[str, dict[str, str]] = {}
        self._geom_types: dict[str, str] = {}
        self._touched: dict[str, list[float] | None] = {}

    # ------------------------------------------------------------ opening ---
    @classmethod
    def open(cls, path: str | Path, create: bool = False) -> Store:
        """Open a store, migrating an older one; ``create`` allows making a new one.

        ``create=True`` also allows adding the borderwatch tables to an empty
        SQLite file or to another application's GeoPackage (never to a
        non-GeoPackage database). A store newer than this code is refused.
        """
        path = Path(path)
        if path.is_dir():
            raise StoreError(path, "is a directory, not a GeoPackage store")
        if not path.exists():
            if not create:
                raise StoreError(path, "no such store (open with create=True to make one)")
            if not path.parent.is_dir():
                raise StoreError(path, f"folder {path.parent} does not exist")
        else:
            try:
                with open(path, "rb") as fh:
                    head = fh.read(len(_SQLITE_MAGIC))
            except OSError as exc:
                raise StoreError(path, f"cannot be read: {exc.strerror}") from exc
            if head and head != _SQLITE_MAGIC:
                raise StoreError(path, "is not a GeoPackage (not an SQLite database)")
        try:
            conn = sqlite3.connect(path, isolation_level=None, timeout=30.0)
        except sqlite3.Error as exc:
            raise StoreError(path, f"cannot be opened: {exc}") from exc
        store = cls(path, conn)
        try:
            register_functions(conn)
            conn.execute("PRAGMA foreign_keys = ON")
            mode = conn.execute("PRAGMA journal_mode = DELETE").fetchone()[0]
            if mode.lower() != "delete":
                raise StoreError(path, f"cannot switch the journal mode from {mode} (is it open elsewhere?)")
            store._prepare(create)
        except StoreError:
            conn.close()
            raise
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise StoreError(path, f"cannot be opened as a GeoPackage: {exc}") from exc
        return store

    def _prepare(self, create: bool) -> None:
        """Check what the file is and bring it to the current schema version."""
        conn = self._conn
        (app_id,) = conn.execute("PRAGMA application_id").fetchone()
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        latest = schema.MIGRATIONS[-1].version
        if not tables and app_id in (0, schema.GPKG_APPLICATION_ID):
            if not create:
                raise StoreError(
                    self.path, "is an empty database, not a borderwatch store (open with create=True to make one)"
                )
            current = 0
        elif app_id != schema.GPKG_APPLICATION_ID:
            raise StoreError(self.path, f"is an SQLite database but not a GeoPackage (application_id {app_id:#x})")
        elif META_TABLE not in tables:
            if not create:
                raise StoreError(
                    self.path,
                    "is a GeoPackage without borderwatch tables (open with create=True to add them)",
                )
            current = 0
        else:
            current = self._read_version()
            if current > latest:
                raise StoreError(
                    self.path,
                    f"has schema version {current}, newer than this borderwatch ({__version__}) knows "
                    f"({latest}); upgrade borderwatch",
                )
        if current < latest:
            self._migrate(current)
        self._load_layout()

    def _read_version(self) -> int:
        row = self._conn.execute(f"SELECT MAX(version) FROM {META_TABLE}").fetchone()
        return int(row[0] or 0)

    def _migrate(self, current: int) -> None:
        """Apply every pending migration in one transaction: all or nothing."""
        try:
            with self.transaction():
                for m in schema.MIGRATIONS:
                    if m.version <= current:
                        continue
                    m.apply(self._conn)
                    self._conn.execute(
                        f"INSERT INTO {META_TABLE} (version, name, software_version, applied_at) "
                        "VALUES (?, ?, ?, ?)",
                        (m.version, m.name, __version__, utc_now()),
                    )
        except sqlite3.Error as exc:
            raise StoreError(self.path, f"migration from schema version {current} failed: {exc}") from exc

    def _load_layout(self) -> None:
        """Cache each table's column types and geometry type (read from the file itself)."""
        self._geom_types = {
            t: g.upper()
            for t, c, g in self._conn.execute(
                "SELECT table_name, column_name, geometry_type_name FROM gpkg_geometry_columns"
            )
            if c == GEOM_COLUMN
        }
        self._columns = {}
        names = [r[0] for r in self._conn.execute("SELECT table_name FROM gpkg_contents")]
        for table in names:
            info = self._conn.execute(f"PRAGMA table_info({quote(table)})").fetchall()
            self._columns[table] = {r[1]: (r[2] or "").upper() for r in info}

    # ------------------------------------------------------------ lifetime ---
    @property
    def schema_version(self) -> int:
        """The borderwatch schema version of this file."""
        return self._read_version()

    def close(self) -> None:
        """Close the file; with the rollback journal nothing is left beside it."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None  # type: ignore[assignment]

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[Store]:
        """All-or-nothing writes. Nested use becomes a savepoint inside the outer transaction."""
        if self._conn is None:
            raise StoreError(self.path, "the store is closed")
        conn = self._conn
        if self._depth == 0:
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                raise StoreError(self.path, f"cannot start a write ({exc}; is another process writing?)") from exc
            self._touched = {}
        else:
            conn.execute(f"SAVEPOINT bw_sp{self._depth}")
        self._depth += 1
        try:
            yield self
        except BaseException:
            self._depth -= 1
            if self._depth == 0:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                self._touched = {}
            else:
                conn.execute(f"ROLLBACK TO bw_sp{self._depth}")
                conn.execute(f"RELEASE bw_sp{self._depth}")
            raise
        self._depth -= 1
        if self._depth == 0:
            try:
                self._flush_contents()
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            finally:
                self._touched = {}
        else:
            conn.execute(f"RELEASE bw_sp{self._depth}")

    def _flush_contents(self) -> None:
        """Update gpkg_contents last_change and extent for the tables written in this transaction."""
        now = utc_now()
        for table, b in self._touched.items():
            if b is None:
                self._conn.execute("UPDATE gpkg_contents SET last_change = ? WHERE table_name = ?", (now, table))
                continue
            self._conn.execute(
                "UPDATE gpkg_contents SET last_change = ?, "
                "min_x = CASE WHEN min_x IS NULL THEN ? ELSE min(min_x, ?) END, "
                "min_y = CASE WHEN min_y IS NULL THEN ? ELSE min(min_y, ?) END, "
                "max_x = CASE WHEN max_x IS NULL THEN ? ELSE max(max_x, ?) END, "
                "max_y = CASE WHEN max_y IS NULL THEN ? ELSE max(max_y, ?) END "
                "WHERE table_name = ?",
                (now, b[0], b[0], b[1], b[1], b[2], b[2], b[3], b[3], table),
            )

    def _touch(self, table: str, geom: BaseGeometry | None) -> None:
        b = self._touched.get(table)
        if geom is None or geom.is_empty:
            self._touched.setdefault(table, None)
            return
        minx, miny, maxx, maxy = geom.bounds
        if b is None:
            self._touched[table] = [minx, miny, maxx, maxy]
        else:
            b[:] = [min(b[0], minx), min(b[1], miny), max(b[2], maxx), max(b[3], maxy)]

    # ------------------------------------------------------------ encoding ---
    def _table_columns(self, table: str) -> dict[str, str]:
        if table not in self._columns or table == META_TABLE:
            raise StoreError(self.path, f"unknown table {table!r}")
        return self._columns[table]

    def _geom_blob(self, table: str, geom: Any) -> bytes | None:
        if geom is None:
            return None
        declared = self._geom_types[table]
        if not isinstance(geom, BaseGeometry):
            raise StoreError(self.path, f"{table}: geometry must be a shapely geometry, got {type(geom).__name__}")
        allowed = _ACCEPTS.get(declared)
        if allowed is not None and geom.geom_type not in allowed:
            raise StoreError(self.path, f"{table}: expected a {declared} geometry, got {geom.geom_type}")
        if declared == "MULTIPOLYGON" and isinstance(geom, Polygon):
            geom = MultiPolygon([geom])
        try:
            check_lonlat(geom)
            blob = to_blob(geom)
        except GeometryBlobError as exc:
            raise StoreError(self.path, f"{table}: {exc}") from exc
        self._touch(table, geom)
        return blob

    def _encode(self, table: str, column: str, ctype: str, value: Any) -> Any:
        if value is None:
            return None
        if column in schema.JSON_COLUMNS.get(table, ()):
            try:
                return json.dumps(_plain_json(value), sort_keys=True, allow_nan=False)
            except (TypeError, ValueError) as exc:
                raise StoreError(self.path, f"{table}.{column}: not JSON-serialisable: {exc}") from exc
        if isinstance(value, np.generic):
            value = value.item()
        if ctype == "DATE":
            return _fmt_date(self.path, f"{table}.{column}", value)
        if ctype == "DATETIME":
            if isinstance(value, dt.datetime):
                return _fmt_datetime(value)
            if isinstance(value, str):
                try:
                    return _fmt_datetime(dt.datetime.fromisoformat(value))
                except ValueError:
                    pass
            raise StoreError(self.path, f"{table}.{column}: {value!r} is not a date-time")
        if isinstance(value, (Mapping, list, tuple, set)):
            raise StoreError(self.path, f"{table}.{column}: cannot store a {type(value).__name__}")
        return value

    def _decode_row(self, table: str, cols: list[str], row: tuple) -> dict[str, Any]:
        types = self._columns[table]
        json_cols = schema.JSON_COLUMNS.get(table, ())
        out: dict[str, Any] = {}
        for name, value in zip(cols, row, strict=True):
            try:
                if name == GEOM_COLUMN and table in self._geom_types:
                    out[GEOMETRY_KEY] = from_blob(value)
                elif value is None:
                    out[name] = None
                elif name in json_cols:
                    out[name] = json.loads(value)
                elif types.get(name) == "DATE":
                    out[name] = dt.date.fromisoformat(value)
                elif types.get(name) == "DATETIME":
                    stamp = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
                    out[name] = stamp if stamp.tzinfo else stamp.replace(tzinfo=dt.timezone.utc)
                else:
                    out[name] = value
            except (GeometryBlobError, ValueError, TypeError) as exc:
                shown = repr(value)[:60]
                raise StoreError(self.path, f"{table}.{name}: stored value {shown} cannot be read ({exc})") from exc
        return out

    def _where(self, table: str, where: Mapping[str, Any] | None) -> tuple[list[str], list[Any]]:
        types = self._table_columns(table)
        clauses: list[str] = []
        params: list[Any] = []
        for key, value in (where or {}).items():
            if key not in types or key == GEOM_COLUMN:
                raise StoreError(self.path, f"{table}: unknown column {key!r}")
            if value is None:
                clauses.append(f"{quote(key)} IS NULL")
            else:
                clauses.append(f"{quote(key)} = ?")
                params.append(self._encode(table, key, types[key], value))
        return clauses, params

    # ------------------------------------------------------------ generic ---
    def _insert(self, table: str, row: Mapping[str, Any], conflict: str = "") -> int | None:
        types = self._table_columns(table)
        cols: list[str] = []
        values: list[Any] = []
        for key, value in row.items():
            if key == GEOMETRY_KEY and table in self._geom_types:
                cols.append(GEOM_COLUMN)
                values.append(self._geom_blob(table, value))
                continue
            if key not in types or key in _AUTO_COLUMNS or key == GEOM_COLUMN:
                raise StoreError(self.path, f"{table}: unknown or automatic column {key!r}")
            cols.append(key)
            values.append(self._encode(table, key, types[key], value))
        if "created_at" in types:
            cols.append("created_at")
            values.append(utc_now())
        if table not in self._touched:
            self._touch(table, None)
        sql = (
            f"INSERT INTO {quote(table)} ({', '.join(quote(c) for c in cols)}) "
            f"VALUES ({', '.join('?' for _ in cols)}) {conflict}"
        )
        try:
            cur = self._conn.execute(sql, values)
        except sqlite3.IntegrityError as exc:
            raise StoreError(self.path, f"{table}: row rejected ({exc})") from exc
        return cur.lastrowid if cur.rowcount else None

    def write_rows(self, table: str, rows: Iterable[Mapping[str, Any]]) -> list[int]:
        """Insert rows into a table, atomically; returns their fids.

        Keys are column names, plus ``geometry`` (shapely, EPSG:4326) for spatial
        tables. JSON columns take dicts/lists; DATE columns take dates or ISO text.
        ``fid`` and ``created_at`` are set by the store.
        """
        fids: list[int] = []
        with self.transaction():
            for row in rows:
                fid = self._insert(table, row)
                assert fid is not None
                fids.append(fid)
        return fids

    def read_rows(
        self,
        table: str,
        where: Mapping[str, Any] | None = None,
        bbox: tuple[float, float, float, float] | None = None,
    ) -> list[dict[str, Any]]:
        """Rows of a table as dicts (``fid``, columns, ``geometry`` as shapely), in fid order.

        ``where`` is column -> value equality (None matches NULL); ``bbox``
        (minx, miny, maxx, maxy, lon/lat) is answered by the table's R-tree.
        """
        clauses, params = self._where(table, where)
        if bbox is not None:
            if table not in self._geom_types:
                raise StoreError(self.path, f"{table}: has no geometry to search by bbox")
            minx, miny, maxx, maxy = bbox
            clauses.append(
                f"fid IN (SELECT id FROM {quote(f'rtree_{table}_{GEOM_COLUMN}')} "
                "WHERE minx <= ? AND maxx >= ? AND miny <= ? AND maxy >= ?)"
            )
            params += [maxx, minx, maxy, miny]
        sql = f"SELECT * FROM {quote(table)}"
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        cur = self._conn.execute(sql + " ORDER BY fid", params)
        cols = [d[0] for d in cur.description]
        return [self._decode_row(table, cols, row) for row in cur.fetchall()]

    def update_rows(self, table: str, where: Mapping[str, Any], values: Mapping[str, Any]) -> int:
        """Set ``values`` (columns, or ``geometry``) on the rows matching ``where``; returns the count."""
        if not where:
            raise StoreError(self.path, f"{table}: update_rows needs a where (refusing to change every row)")
        types = self._table_columns(table)
        clauses, params = self._where(table, where)
        sets: dict[str, Any] = {}
        for key, value in values.items():
            if key == GEOMETRY_KEY and table in self._geom_types:
                sets[GEOM_COLUMN] = self._geom_blob(table, value)
            elif key not in types or key in _AUTO_COLUMNS or key == GEOM_COLUMN:
                raise StoreError(self.path, f"{table}: unknown or automatic column {key!r}")
            else:
                sets[key] = self._encode(table, key, types[key], value)
        if not sets:
            return 0
        sql = f"UPDATE {quote(table)} SET {', '.join(f'{quote(k)} = ?' for k in sets)} WHERE {' AND '.join(clauses)}"
        with self.transaction():
            self._touch(table, None)
            try:
                return self._conn.execute(sql, [*sets.values(), *params]).rowcount
            except sqlite3.IntegrityError as exc:
                raise StoreError(self.path, f"{table}: update rejected ({exc})") from exc

    def delete_rows(self, table: str, where: Mapping[str, Any]) -> int:
        """Delete the rows matching ``where`` (required); returns the count."""
        if not where:
            raise StoreError(self.path, f"{table}: delete_rows needs a where (refusing to delete every row)")
        clauses, params = self._where(table, where)
        with self.transaction():
            self._touch(table, None)
            try:
                return self._conn.execute(f"DELETE FROM {quote(table)} WHERE {' AND '.join(clauses)}", params).rowcount
            except sqlite3.IntegrityError as exc:
                raise StoreError(self.path, f"{table}: delete rejected ({exc})") from exc

    # ------------------------------------------------------------ corridors ---
    def upsert_corridor(self, record: Mapping[str, Any], line_lonlat: BaseGeometry) -> None:
        """Insert or replace a corridor by name; keeps its created_at."""
        unknown = set(record) - set(_CORRIDOR_FIELDS)
        if unknown:
            raise StoreError(self.path, f"corridors: unknown field(s) {', '.join(sorted(unknown))}")
        if not record.get("name"):
            raise StoreError(self.path, "corridors: a corridor needs a name")
        if not isinstance(line_lonlat, LineString):
            raise StoreError(self.path, f"corridors: the line must be a LineString, got {type(line_lonlat).__name__}")
        with self.transaction():
            exists = self._conn.execute("SELECT 1 FROM corridors WHERE name = ?", (record["name"],)).fetchone()
            if not exists:
                self._insert("corridors", dict(record, geometry=line_lonlat))
                return
            # Plain UPDATE, not an UPSERT: an UPSERT's conflict handling would override
            # the INSERT OR REPLACE inside the R-tree update triggers.
            types = self._columns["corridors"]
            sets = {k: self._encode("corridors", k, types[k], v) for k, v in record.items() if k != "name"}
            sets[GEOM_COLUMN] = self._geom_blob("corridors", line_lonlat)
            sets["updated_at"] = utc_now()
            self._conn.execute(
                f"UPDATE corridors SET {', '.join(f'{quote(k)} = ?' for k in sets)} WHERE name = ?",
                [*sets.values(), record["name"]],
            )

    def corridors(self) -> list[dict[str, Any]]:
        """Every stored corridor (``geometry`` is the lon/lat line)."""
        return self.read_rows("corridors")

    # ------------------------------------------------------------ scenes ---
    def add_scenes(self, scenes: Iterable[Scene]) -> list[str]:
        """Register scenes, atomically; a sha256 already stored is skipped. Returns the scene ids."""
        ids: list[str] = []
        with self.transaction():
            for scene in scenes:
                if not isinstance(scene, Scene):
                    raise StoreError(self.path, f"scenes: expected a Scene, got {type(scene).__name__}")
                ids.append(self._add_scene(scene))
        return ids

    def _add_scene(self, scene: Scene) -> str:
        rows = self._conn.execute(
            "SELECT scene_id, sha256 FROM scenes WHERE sha256 = ? OR scene_id = ?",
            (scene.sha256, scene.scene_id),
        ).fetchall()
        for scene_id, sha in rows:
            if scene_id == scene.scene_id and sha == scene.sha256:
                return scene_id
            raise StoreError(
                self.path,
                f"scenes: {scene.scene_id} (sha256 {scene.sha256[:16]}...) clashes with stored scene "
                f"{scene_id} (sha256 {sha[:16]}...)",
            )
        try:
            footprint = shapely_wkt.loads(scene.footprint_wkt)
        except Exception as exc:  # shapely raises GEOSException subclasses for bad WKT
            raise StoreError(self.path, f"scenes: {scene.scene_id}: bad footprint WKT ({exc})") from exc
        columns = self._columns["scenes"]
        row = {}
        for f in dataclasses.fields(Scene):
            if f.name not in columns:
                raise StoreError(self.path, f"scenes: the store has no column for Scene.{f.name} (needs a migration)")
            row[f.name] = getattr(scene, f.name)
        row[GEOMETRY_KEY] = footprint
        self._insert("scenes", row)
        return scene.scene_id

    def scenes(self, date: dt.date | str | None = None) -> list[Scene]:
        """Stored scenes (all, or those captured on ``date``), by date then id."""
        where = None if date is None else {"capture_date": date}
        rows = self.read_rows("scenes", where)
        rows.sort(key=lambda r: (r["capture_date"], r["scene_id"]))
        return [_scene_from_row(r) for r in rows]

    def scene(self, scene_id: str) -> Scene:
        """One stored scene by id."""
        rows = self.read_rows("scenes", {"scene_id": scene_id})
        if not rows:
            raise StoreError(self.path, f"no scene {scene_id!r} in the store")
        return _scene_from_row(rows[0])

    # ------------------------------------------------------------ runs ---
    def start_run(self, corridor: str, parameters: Mapping[str, Any], versions: Mapping[str, Any]) -> str:
        """Record the start of a run on a stored corridor; returns its run_id (uuid4 hex)."""
        if not self._conn.execute("SELECT 1 FROM corridors WHERE name = ?", (corridor,)).fetchone():
            raise StoreError(self.path, f"runs: corridor {corridor!r} is not in the store (upsert it first)")
        run_id = uuid.uuid4().hex
        with self.transaction():
            self._insert("runs", {
                "run_id": run_id, "corridor": corridor, "started_at": utc_now(), "status": "running",
                "parameters": dict(parameters), "software_version": __version__,
                "model_versions": dict(versions), "host": socket.gethostname(),
            })
        return run_id

    def finish_run(self, run_id: str, status: str) -> None:
        """Mark a run finished with a status (e.g. 'ok', 'failed', 'interrupted')."""
        if not isinstance(status, str) or not status.strip():
            raise StoreError(self.path, f"runs: status must be a non-empty string, got {status!r}")
        with self.transaction():
            cur = self._conn.execute(
                "UPDATE runs SET finished_at = ?, status = ? WHERE run_id = ?", (utc_now(), status, run_id)
            )
            if cur.rowcount == 0:
                raise StoreError(self.path, f"runs: no run {run_id!r}")
            self._touch("runs", None)

    def runs(self) -> list[dict[str, Any]]:
        """Every run, oldest first."""
        return self.read_rows("runs")

    # ------------------------------------------------------------ tiles ---
    def finished_tile_keys(self, param_hash: str, versions_hash: str) -> set[tuple[str, str]]:
        """(tile_id, ISO date) of tiles already done with these parameters and versions."""
        cur = self._conn.execute(
            "SELECT tile_id, date FROM tile_results WHERE param_hash = ? AND versions_hash = ?",
            (param_hash, versions_hash),
        )
        return {(t, d) for t, d in cur}

    def put_tile_results(self, rows: Iterable[Mapping[str, Any]]) -> int:
        """Store tile results, atomically. A key already stored is kept (skipped). Returns rows added."""
        added = 0
        with self.transaction():
            for row in rows:
                missing = [k for k in _TILE_FIELDS if k not in row]
                extra = [k for k in row if k not in _TILE_FIELDS]
                if missing or extra:
                    raise StoreError(
                        self.path,
                        f"tile_results: row {row.get('tile_id')!r} missing {missing} / unknown {extra}",
                    )
                if self._insert("tile_results", row, "ON CONFLICT DO NOTHING") is not None:
                    added += 1
        return added

    def tile_results(self, date: dt.date | str | None = None) -> list[dict[str, Any]]:
        """Stored tile results (all, or for one date), in insertion order."""
        return self.read_rows("tile_results", None if date is None else {"date": date})

    def current_rows(self, table: str, param_hash: str, versions_hash: str) -> list[dict[str, Any]]:
        """Rows of ``table`` (detections, evidence) behind the tile results of one parameter/version set.

        A tile analysed again with other parameters or another model keeps its old
        rows under their own run; this picks the ones that match, whichever run
        (first or resumed) computed the tile.
        """
        cur = self._conn.execute(
            "SELECT tile_id, date, run_id FROM tile_results WHERE param_hash = ? AND versions_hash = ?",
            (param_hash, versions_hash),
        )
        keys = {(t, str(d), r) for t, d, r in cur}
        return [row for row in self.read_rows(table) if (row["tile_id"], str(row["date"]), row["run_id"]) in keys]


def _fmt_date(path: Path, what: str, value: Any) -> str:
    if isinstance(value, dt.datetime):
        raise StoreError(path, f"{what}: expected a date, got a date-time {value!r}")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value).isoformat()
        except ValueError:
            pass
    raise StoreError(path, f"{what}: {value!r} is not a date (YYYY-MM-DD)")


def _scene_from_row(row: Mapping[str, Any]) -> Scene:
    values = {f.name: row[f.name] for f in dataclasses.fields(Scene) if f.name in row}
    for name in _SCENE_TUPLES:
        if values.get(name) is not None:
            values[name] = tuple(values[name])
    values["licence"] = values.get("licence") or ""
    values["extra"] = values.get("extra") or {}
    return Scene(**values)


def corridor_record(corridor: Any) -> tuple[dict[str, Any], LineString]:
    """The (record, lon/lat line) for ``upsert_corridor`` from a borderwatch Corridor."""
    record = {
        "name": corridor.name,
        "crs": f"EPSG:{corridor.epsg}",
        "left_country": corridor.left_country,
        "right_country": corridor.right_country,
        "left_width_m": float(corridor.left_width_m),
        "right_width_m": float(corridor.right_width_m),
        "origin": corridor.origin_name,
        "length_km": float(corridor.length_km),
        "source": corridor.source,
        "attribution": corridor.attribution,
        "params": {"chainage_offset_km": float(corridor.chainage_offset_km),
                   "freeze_season": corridor.describe().get("freeze_season")},
    }
    return record, corridor.line_lonlat
