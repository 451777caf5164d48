"""The controller's state in one sqlite file: services as last applied, where each replica lives,
deploy history for rollback, drained hosts, the audit log, events and health counters.

Several orchestr processes may open the store at once (an apply and a status, a health sweep):
the file is in WAL mode so readers never wait, and every write runs in a `BEGIN IMMEDIATE`
transaction so writers queue on sqlite's busy timeout instead of failing half-way. Losing the
file is recoverable (re-apply the service files; the containers' labels say what runs), so a
damaged store is reported with that advice rather than repaired.
"""

from __future__ import annotations

import getpass
import json
import os
import shlex
import sqlite3
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from orchestr.errors import OrchestrError

BUSY_TIMEOUT_MS = 5000
STORE_FILE = "orchestr.db"

# "interrupted": a deploy whose command was killed before it finished, closed by the next one.
DeployStatus = Literal["running", "succeeded", "failed", "rolled back", "paused", "interrupted"]
DEPLOY_STATUSES: tuple[str, ...] = (
    "running", "succeeded", "failed", "rolled back", "paused", "interrupted"
)


class StoreError(OrchestrError):
    """The store file cannot be opened, read or written."""


def state_dir() -> Path:
    """Controller-side state: ORCHESTR_STATE_DIR, else the XDG state home, as `orchestr lab` does."""
    configured = os.environ.get("ORCHESTR_STATE_DIR")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_STATE_HOME") or os.path.expanduser("~/.local/state")
    return Path(base) / "orchestr"


def default_store_path() -> str:
    """ORCHESTR_STORE names the file outright; otherwise it sits in the state directory."""
    configured = os.environ.get("ORCHESTR_STORE")
    if configured:
        return configured
    return str(state_dir() / STORE_FILE)


def login_name() -> str:
    """Who ran the command, for the audit log and the lock; never fails."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        # No login name in the environment and no passwd entry (a bare container uid).
        return f"uid {os.getuid()}"


def command_line(argv: list[str] | None = None, limit: int = 200) -> str:
    """`orchestr apply site.yml` as typed, cut short so a huge argv cannot bloat every record."""
    args = sys.argv[1:] if argv is None else argv
    text = shlex.join(["orchestr", *args])
    return text if len(text) <= limit else text[: limit - 3] + "..."


@dataclass(frozen=True)
class StoredService:
    """A service as last applied: its spec, where it may run and the deploy that put it there."""

    name: str
    spec: dict[str, Any]
    spec_hash: str
    deploy_id: int | None
    hosts: tuple[str, ...]
    updated_at: float


@dataclass(frozen=True)
class SlotRecord:
    """Where one replica of a service lives; the epoch grows each time the slot is replaced."""

    service: str
    slot: str
    epoch: int
    host: str


@dataclass(frozen=True)
class Deploy:
    """One `apply` of a service. `id` is global, `number` counts 1, 2, 3... per service."""

    id: int
    number: int
    service: str
    spec: dict[str, Any]
    spec_hash: str
    status: str
    started_at: float
    finished_at: float | None
    user: str
    command: str
    detail: str


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: float
    user: str
    command: str
    action: str
    service: str | None
    detail: str


@dataclass(frozen=True)
class Event:
    id: int
    at: float
    kind: str
    detail: str
    host: str | None
    service: str | None


@dataclass(frozen=True)
class HealthRecord:
    """A container's health-check counters as the sweep last left them."""

    successes: int
    failures: int
    status: str
    since: float
    restarts: int


# --- schema -----------------------------------------------------------------------------------
# MIGRATIONS[n] takes a store from schema version n to n + 1; PRAGMA user_version records where
# a file is. Later issues append functions; never edit one that has shipped.


def _create_v1(db: sqlite3.Connection) -> None:
    statements = (
        """CREATE TABLE services (
            name TEXT PRIMARY KEY,
            spec TEXT NOT NULL,
            spec_hash TEXT NOT NULL,
            deploy_id INTEGER,
            hosts TEXT NOT NULL,
            updated_at REAL NOT NULL)""",
        """CREATE TABLE slots (
            service TEXT NOT NULL,
            slot TEXT NOT NULL,
            epoch INTEGER NOT NULL,
            host TEXT NOT NULL,
            PRIMARY KEY (service, slot))""",
        # AUTOINCREMENT: services point at deploy ids, so an id must never be handed out twice.
        """CREATE TABLE deploys (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            service TEXT NOT NULL,
            number INTEGER NOT NULL,
            spec TEXT NOT NULL,
            spec_hash TEXT NOT NULL,
            status TEXT NOT NULL,
            started_at REAL NOT NULL,
            finished_at REAL,
            user TEXT NOT NULL,
            command TEXT NOT NULL,
            detail TEXT NOT NULL,
            UNIQUE (service, number))""",
        """CREATE TABLE hosts (
            name TEXT PRIMARY KEY,
            schedulable INTEGER NOT NULL,
            reason TEXT NOT NULL,
            updated_at REAL NOT NULL)""",
        """CREATE TABLE audit (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            at REAL NOT NULL,
            user TEXT NOT NULL,
            command TEXT NOT NULL,
            action TEXT NOT NULL,
            service TEXT,
            detail TEXT NOT NULL)""",
        "CREATE INDEX audit_by_service ON audit (service, id)",
        """CREATE TABLE events (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            at REAL NOT NULL,
            kind TEXT NOT NULL,
            detail TEXT NOT NULL,
            host TEXT,
            service TEXT)""",
        "CREATE INDEX events_by_time ON events (at)",
        """CREATE TABLE health (
            service TEXT NOT NULL,
            container TEXT NOT NULL,
            successes INTEGER NOT NULL,
            failures INTEGER NOT NULL,
            status TEXT NOT NULL,
            since REAL NOT NULL,
            restarts INTEGER NOT NULL,
            PRIMARY KEY (service, container))""",
    )
    for statement in statements:
        db.execute(statement)


MIGRATIONS: tuple[Callable[[sqlite3.Connection], None], ...] = (_create_v1,)
SCHEMA_VERSION = len(MIGRATIONS)


# --- errors -----------------------------------------------------------------------------------

_DAMAGED_HINT = (
    "move it aside (mv {src} {dst}) and run again; a lost store is rebuilt by "
    "re-applying your service files and draining drained hosts again, only deploy history and "
    "the audit log are gone"
)


def _damaged_hint(path: str) -> str:
    # Quoted so the mv can be pasted as is, spaces and all.
    return _DAMAGED_HINT.format(src=shlex.quote(path), dst=shlex.quote(path + ".broken"))


def _store_error(path: str, exc: sqlite3.Error) -> StoreError:
    """Turn sqlite's error into one the operator can act on, chosen by sqlite's error code."""
    code = getattr(exc, "sqlite_errorname", "") or ""
    if code.startswith(("SQLITE_NOTADB", "SQLITE_CORRUPT")):
        return StoreError(
            f"the store {path} is not a usable database ({exc})",
            hint=_damaged_hint(path),
        )
    if code.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        return StoreError(
            f"the store {path} stayed busy for {BUSY_TIMEOUT_MS // 1000} s ({exc})",
            hint="another orchestr process is writing to it; run again when it is done",
        )
    if code.startswith(("SQLITE_CANTOPEN", "SQLITE_READONLY", "SQLITE_PERM", "SQLITE_AUTH")):
        return StoreError(
            f"cannot open the store {path} for writing ({exc})",
            hint="check that the file and its directory exist and belong to you, "
            "or point ORCHESTR_STORE elsewhere",
        )
    if code.startswith("SQLITE_FULL"):
        return StoreError(f"cannot write the store {path}: the disk is full", hint="free space")
    return StoreError(
        f"the store {path} failed: {exc}",
        hint="if the file is damaged, " + _damaged_hint(path),
    )


# --- the store --------------------------------------------------------------------------------


def make_private_dirs(directory: Path) -> None:
    """Create missing directories 0700: the store names hosts and who ran what."""
    missing: list[Path] = []
    for candidate in (directory, *directory.parents):
        if candidate.exists():
            break
        missing.append(candidate)
    for candidate in reversed(missing):
        with suppress(FileExistsError):  # another process created it meanwhile
            candidate.mkdir(mode=0o700)


def _create_private_file(path: str) -> None:
    """Create the file 0600 before sqlite does (sqlite would use 0644); existing ones are kept."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    os.close(fd)


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


class Store:
    """One open store file. Safe to share between threads; use `Store.open`."""

    def __init__(self, path: str, db: sqlite3.Connection):
        self.path = path
        self._db = db
        # One connection serves all threads; the mutex keeps their statements and transactions
        # from interleaving. It is re-entrant so transaction() can nest.
        self._mutex = threading.RLock()
        self._depth = 0

    @classmethod
    def open(cls, path: str | os.PathLike[str] | None = None) -> Store:
        where = os.fspath(path) if path is not None else default_store_path()
        try:
            make_private_dirs(Path(where).parent)
            _create_private_file(where)
        except OSError as exc:
            raise StoreError(
                f"cannot create the store {where}: {exc.strerror or exc}",
                hint="check the directory's permissions, or point ORCHESTR_STORE elsewhere",
            ) from exc
        db: sqlite3.Connection | None = None
        try:
            # isolation_level=None: no implicit transactions; this class says BEGIN IMMEDIATE
            # itself. check_same_thread=False: the mutex serialises threads instead.
            db = sqlite3.connect(where, isolation_level=None, check_same_thread=False)
            db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            db.execute("PRAGMA journal_mode = WAL")
            store = cls(where, db)
            store._migrate()
        except sqlite3.DatabaseError as exc:
            if db is not None:
                db.close()
            raise _store_error(where, exc) from exc
        except BaseException:
            if db is not None:
                db.close()
            raise
        return store

    def close(self) -> None:
        with self._mutex:
            self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _migrate(self) -> None:
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version == SCHEMA_VERSION:
            return  # the common case: no write lock taken just to open
        with self.transaction():
            # Read again under the write lock: another process may have migrated meanwhile.
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"the store {self.path} has schema version {version}, this orchestr knows "
                    f"up to {SCHEMA_VERSION}",
                    hint="upgrade orchestr, or point ORCHESTR_STORE at another file",
                )
            for migrate in MIGRATIONS[version:]:
                migrate(self._db)
            self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    # --- plumbing ---

    @contextmanager
    def _translated(self) -> Iterator[None]:
        try:
            yield
        except (sqlite3.IntegrityError, sqlite3.ProgrammingError):
            raise  # orchestr's own bug, not the file's: keep the traceback
        except sqlite3.DatabaseError as exc:
            raise _store_error(self.path, exc) from exc

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Group writes: all of them land or none. Nests; only the outermost commits."""
        with self._mutex:
            if self._depth:
                self._depth += 1
                try:
                    yield
                finally:
                    self._depth -= 1
                return
            with self._translated():
                # IMMEDIATE takes the write lock up front: a read-then-write transaction that
                # started deferred could not wait for it later and would fail "database is locked".
                self._db.execute("BEGIN IMMEDIATE")
                self._depth = 1
                try:
                    yield
                    self._db.execute("COMMIT")
                except BaseException:
                    if self._db.in_transaction:
                        self._db.execute("ROLLBACK")
                    raise
                finally:
                    self._depth = 0

    def _read(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._mutex, self._translated():
            return self._db.execute(sql, params).fetchall()

    def _write(self, sql: str, params: tuple[Any, ...] = ()) -> sqlite3.Cursor:
        with self.transaction():
            return self._db.execute(sql, params)

    # --- services ---

    def set_service(
        self,
        name: str,
        spec: dict[str, Any],
        spec_hash: str,
        deploy_id: int | None,
        hosts: list[str] | tuple[str, ...],
    ) -> None:
        self._write(
            """INSERT INTO services (name, spec, spec_hash, deploy_id, hosts, updated_at)
               VALUES (?, ?, ?, ?, ?, ?)
               ON CONFLICT (name) DO UPDATE SET spec = excluded.spec,
                 spec_hash = excluded.spec_hash, deploy_id = excluded.deploy_id,
                 hosts = excluded.hosts, updated_at = excluded.updated_at""",
            (name, _dumps(spec), spec_hash, deploy_id, _dumps(list(hosts)), time.time()),
        )

    _SERVICE_COLUMNS = "name, spec, spec_hash, deploy_id, hosts, updated_at"

    @staticmethod
    def _service(row: tuple[Any, ...]) -> StoredService:
        name, spec, spec_hash, deploy_id, hosts, updated_at = row
        return StoredService(
            name, json.loads(spec), spec_hash, deploy_id, tuple(json.loads(hosts)), updated_at
        )

    def get_service(self, name: str) -> StoredService | None:
        rows = self._read(f"SELECT {self._SERVICE_COLUMNS} FROM services WHERE name = ?", (name,))
        return self._service(rows[0]) if rows else None

    def services(self) -> list[StoredService]:
        rows = self._read(f"SELECT {self._SERVICE_COLUMNS} FROM services ORDER BY name")
        return [self._service(row) for row in rows]

    def remove_service(self, name: str) -> None:
        """Forget a service, its slots and its health counters; deploy history and audit stay."""
        with self.transaction():
            self._db.execute("DELETE FROM services WHERE name = ?", (name,))
            self._db.execute("DELETE FROM slots WHERE service = ?", (name,))
            self._db.execute("DELETE FROM health WHERE service = ?", (name,))

    # --- slots ---

    def set_slot(self, service: str, slot: str, epoch: int, host: str) -> None:
        self._write(
            """INSERT INTO slots (service, slot, epoch, host) VALUES (?, ?, ?, ?)
               ON CONFLICT (service, slot) DO UPDATE SET epoch = excluded.epoch,
                 host = excluded.host""",
            (service, slot, epoch, host),
        )

    def remove_slot(self, service: str, slot: str) -> None:
        self._write("DELETE FROM slots WHERE service = ? AND slot = ?", (service, slot))

    def slots(self, service: str) -> dict[str, SlotRecord]:
        rows = self._read(
            "SELECT service, slot, epoch, host FROM slots WHERE service = ?", (service,)
        )
        return {row[1]: SlotRecord(*row) for row in rows}

    def all_slots(self) -> list[SlotRecord]:
        rows = self._read("SELECT service, slot, epoch, host FROM slots ORDER BY service, slot")
        return [SlotRecord(*row) for row in rows]

    # --- deploys ---

    _DEPLOY_COLUMNS = (
        "id, number, service, spec, spec_hash, status, started_at, finished_at, user, command, "
        "detail"
    )

    @staticmethod
    def _deploy(row: tuple[Any, ...]) -> Deploy:
        values = list(row)
        values[3] = json.loads(values[3])
        return Deploy(*values)

    def begin_deploy(
        self,
        service: str,
        spec: dict[str, Any],
        spec_hash: str,
        user: str | None = None,
        command: str | None = None,
    ) -> Deploy:
        """Record a deploy as running; it takes the service's next number."""
        started = time.time()
        who = user if user is not None else login_name()
        what = command if command is not None else command_line()
        with self.transaction():
            # Inside the write transaction, so two processes cannot take the same number.
            (number,) = self._db.execute(
                "SELECT COALESCE(MAX(number), 0) + 1 FROM deploys WHERE service = ?", (service,)
            ).fetchone()
            cursor = self._db.execute(
                """INSERT INTO deploys (service, number, spec, spec_hash, status, started_at,
                     finished_at, user, command, detail)
                   VALUES (?, ?, ?, ?, 'running', ?, NULL, ?, ?, '')""",
                (service, number, _dumps(spec), spec_hash, started, who, what),
            )
            deploy_id = cursor.lastrowid
        assert deploy_id is not None
        # The spec as a reader will see it (JSON round trip), not the caller's own object.
        stored_spec = json.loads(_dumps(spec))
        return Deploy(
            id=deploy_id,
            number=number,
            service=service,
            spec=stored_spec,
            spec_hash=spec_hash,
            status="running",
            started_at=started,
            finished_at=None,
            user=who,
            command=what,
            detail="",
        )

    def finish_deploy(self, deploy_id: int, status: DeployStatus, detail: str = "") -> None:
        if status not in DEPLOY_STATUSES or status == "running":
            raise ValueError(f"a deploy cannot finish as {status!r}")
        cursor = self._write(
            "UPDATE deploys SET status = ?, finished_at = ?, detail = ? WHERE id = ?",
            (status, time.time(), detail, deploy_id),
        )
        if cursor.rowcount == 0:
            raise KeyError(f"no deploy with id {deploy_id}")

    def deploys(self, service: str) -> list[Deploy]:
        rows = self._read(
            f"SELECT {self._DEPLOY_COLUMNS} FROM deploys WHERE service = ? ORDER BY number",
            (service,),
        )
        return [self._deploy(row) for row in rows]

    def deploy(self, service: str, number: int) -> Deploy | None:
        rows = self._read(
            f"SELECT {self._DEPLOY_COLUMNS} FROM deploys WHERE service = ? AND number = ?",
            (service, number),
        )
        return self._deploy(rows[0]) if rows else None

    def deploy_by_id(self, deploy_id: int) -> Deploy | None:
        rows = self._read(f"SELECT {self._DEPLOY_COLUMNS} FROM deploys WHERE id = ?", (deploy_id,))
        return self._deploy(rows[0]) if rows else None

    def last_good_deploy(self, service: str, before: int | None = None) -> Deploy | None:
        """The latest succeeded deploy, or the latest numbered below `before`: rollback's target."""
        rows = self._read(
            f"""SELECT {self._DEPLOY_COLUMNS} FROM deploys
                WHERE service = ? AND status = 'succeeded' AND (? IS NULL OR number < ?)
                ORDER BY number DESC LIMIT 1""",
            (service, before, before),
        )
        return self._deploy(rows[0]) if rows else None

    # --- hosts ---

    def set_schedulable(self, host: str, schedulable: bool, reason: str = "") -> None:
        self._write(
            """INSERT INTO hosts (name, schedulable, reason, updated_at) VALUES (?, ?, ?, ?)
               ON CONFLICT (name) DO UPDATE SET schedulable = excluded.schedulable,
                 reason = excluded.reason, updated_at = excluded.updated_at""",
            (host, int(schedulable), reason, time.time()),
        )

    def unschedulable(self) -> dict[str, str]:
        """Drained hosts and why."""
        rows = self._read("SELECT name, reason FROM hosts WHERE schedulable = 0 ORDER BY name")
        return dict(rows)

    # --- audit log ---

    def audit(
        self,
        action: str,
        service: str | None,
        detail: str,
        user: str | None = None,
        command: str | None = None,
    ) -> None:
        self._write(
            """INSERT INTO audit (at, user, command, action, service, detail)
               VALUES (?, ?, ?, ?, ?, ?)""",
            (
                time.time(),
                user if user is not None else login_name(),
                command if command is not None else command_line(),
                action,
                service,
                detail,
            ),
        )

    def audit_log(
        self, service: str | None = None, since: float | None = None, limit: int | None = None
    ) -> list[AuditEntry]:
        """Entries oldest first; `limit` keeps the newest ones."""
        rows = self._newest(
            "SELECT id, at, user, command, action, service, detail FROM audit",
            [("service = ?", service), ("at >= ?", since)],
            limit,
        )
        return [AuditEntry(*row) for row in rows]

    # --- events ---

    def record_event(
        self,
        kind: str,
        detail: str,
        host: str | None = None,
        service: str | None = None,
        at: float | None = None,
    ) -> None:
        self._write(
            "INSERT INTO events (at, kind, detail, host, service) VALUES (?, ?, ?, ?, ?)",
            (at if at is not None else time.time(), kind, detail, host, service),
        )

    def events(self, since: float | None = None, limit: int | None = None) -> list[Event]:
        """Events oldest first; `limit` keeps the newest ones."""
        rows = self._newest(
            "SELECT id, at, kind, detail, host, service FROM events", [("at >= ?", since)], limit
        )
        return [Event(*row) for row in rows]

    def _newest(
        self, select: str, filters: list[tuple[str, Any]], limit: int | None
    ) -> list[tuple[Any, ...]]:
        # Ordered by id, i.e. by when rows were written, so a clock step back cannot reorder them.
        used = [(clause, value) for clause, value in filters if value is not None]
        sql = select
        if used:
            sql += " WHERE " + " AND ".join(clause for clause, _ in used)
        sql += " ORDER BY id DESC"
        params = tuple(value for _, value in used)
        if limit is not None:
            sql += " LIMIT ?"
            params += (max(limit, 0),)
        return list(reversed(self._read(sql, params)))

    # --- health counters ---

    def health(self, service: str) -> dict[str, HealthRecord]:
        rows = self._read(
            """SELECT container, successes, failures, status, since, restarts FROM health
               WHERE service = ? ORDER BY container""",
            (service,),
        )
        return {row[0]: HealthRecord(*row[1:]) for row in rows}

    def set_health(self, service: str, container: str, record: HealthRecord) -> None:
        self._write(
            """INSERT OR REPLACE INTO health
                 (service, container, successes, failures, status, since, restarts)
               VALUES (?, ?, ?, ?, ?, ?, ?)""",
            (
                service,
                container,
                record.successes,
                record.failures,
                record.status,
                record.since,
                record.restarts,
            ),
        )

    def clear_health(self, service: str, container: str) -> None:
        self._write("DELETE FROM health WHERE service = ? AND container = ?", (service, container))
