"""What deploy, the health sweep and the views need from a state store, whatever keeps it, and
`open_store`, which picks the backend from a path or URL. sqlite (orchestr.store.store.Store) is
the first backend; tests/unit/store/test_store_contract.py is the suite every backend must pass.

Locking is not part of this interface: one run at a time is enforced by StoreLock, an flock on
`<sqlite path>.lock` next to the file (orchestr/store/lock.py), taken by the callers that change
services. A backend only has to keep each of its own writes and transactions atomic.
"""

from __future__ import annotations

import os
import re
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from orchestr.store.store import (
    AuditEntry,
    Deploy,
    DeployStatus,
    Event,
    HealthRecord,
    SlotRecord,
    Store,
    StoredService,
    StoreError,
    default_store_path,
)


@runtime_checkable
class StateStore(Protocol):
    """The controller's state. One open store may be shared by threads; a failure of the backend
    itself (unreadable, busy too long, full) is raised as StoreError with a hint."""

    path: str
    """Where the store lives, for messages: a file path, or a URL for a remote backend."""

    # --- services ---
    # A service as last applied. set_service replaces the whole record (stamping updated_at
    # with the store's clock); spec comes back as its JSON round trip (tuples become lists) and
    # hosts as a tuple. services() is sorted by name; get_service of an unknown name is None.
    # remove_service forgets the service, its slots and its health counters, and nothing else:
    # its deploy history, audit entries and events stay, so a re-created service's deploys go on
    # numbering where they stopped. Removing an unknown service is a no-op.

    def set_service(
        self,
        name: str,
        spec: dict[str, Any],
        spec_hash: str,
        deploy_id: int | None,
        hosts: list[str] | tuple[str, ...],
    ) -> None: ...

    def get_service(self, name: str) -> StoredService | None: ...

    def services(self) -> list[StoredService]: ...

    def remove_service(self, name: str) -> None: ...

    # --- slots ---
    # Where each replica lives, keyed by (service, slot); a slot may exist without a service
    # record. set_slot replaces the slot's epoch and host. The store keeps a slot with host ""
    # like any other: callers write that for a retired slot so its epoch survives (a slot that
    # comes back must get a higher epoch), and skip host "" when they want live replicas.
    # remove_slot of an unknown slot is a no-op. slots() maps slot name to record (unknown
    # service: {}); all_slots() lists every slot sorted by (service, slot).

    def set_slot(self, service: str, slot: str, epoch: int, host: str) -> None: ...

    def remove_slot(self, service: str, slot: str) -> None: ...

    def slots(self, service: str) -> dict[str, SlotRecord]: ...

    def all_slots(self) -> list[SlotRecord]: ...

    # --- deploys ---
    # One record per apply. begin_deploy stores it as "running" (finished_at None, detail "",
    # user and command defaulting to login_name() and command_line()) and returns exactly what
    # deploy() will read back. Its number is the service's highest so far plus one, so 1, 2, 3...
    # per service with no gaps, taken atomically against concurrent writers; its id is unique
    # across services. finish_deploy sets status, detail and finished_at; the status must be one
    # of DEPLOY_STATUSES other than "running" (ValueError), the id must exist (KeyError), and a
    # finished deploy may be finished again (failed, then rolled back). deploys() is oldest
    # first by number; deploy() and deploy_by_id() return None when there is no such deploy.
    # last_good_deploy is the highest-numbered "succeeded" deploy, below `before` when given:
    # running, paused, failed and rolled back ones never qualify.

    def begin_deploy(
        self,
        service: str,
        spec: dict[str, Any],
        spec_hash: str,
        user: str | None = None,
        command: str | None = None,
    ) -> Deploy: ...

    def finish_deploy(self, deploy_id: int, status: DeployStatus, detail: str = "") -> None: ...

    def deploys(self, service: str) -> list[Deploy]: ...

    def deploy(self, service: str, number: int) -> Deploy | None: ...

    def deploy_by_id(self, deploy_id: int) -> Deploy | None: ...

    def last_good_deploy(self, service: str, before: int | None = None) -> Deploy | None: ...

    # --- drained hosts ---
    # set_schedulable(host, False, reason) drains a host (again: the new reason wins);
    # set_schedulable(host, True) undrains it. unschedulable() maps each drained host to its
    # reason, sorted by host name.

    def set_schedulable(self, host: str, schedulable: bool, reason: str = "") -> None: ...

    def unschedulable(self) -> dict[str, str]: ...

    # --- audit log and events ---
    # Both are append-only and read back in the order they were written (newest last), not
    # sorted by their `at`, so a clock stepping back cannot reorder them. `at` is the store's
    # clock unless record_event is given one; audit's user and command default to login_name()
    # and command_line(). Filters: service equal to the one given (None: every entry), at >=
    # since (inclusive); then `limit` keeps the newest that many (0 or less: none).

    def audit(
        self,
        action: str,
        service: str | None,
        detail: str,
        user: str | None = None,
        command: str | None = None,
    ) -> None: ...

    def audit_log(
        self, service: str | None = None, since: float | None = None, limit: int | None = None
    ) -> list[AuditEntry]: ...

    def record_event(
        self,
        kind: str,
        detail: str,
        host: str | None = None,
        service: str | None = None,
        at: float | None = None,
    ) -> None: ...

    def events(self, since: float | None = None, limit: int | None = None) -> list[Event]: ...

    # --- health counters ---
    # Keyed by (service, container); the sweep keeps hosts' counters under the pseudo-service
    # "@hosts". set_health replaces the record, clear_health drops it (unknown: no-op), and
    # health() maps container to record in container-name order (unknown service: {}).

    def health(self, service: str) -> dict[str, HealthRecord]: ...

    def set_health(self, service: str, container: str, record: HealthRecord) -> None: ...

    def clear_health(self, service: str, container: str) -> None: ...

    # --- transactions and lifetime ---
    # Writes inside `with store.transaction():` land together or not at all: an exception rolls
    # all of them back and propagates. Reads inside see the transaction's own writes. It nests,
    # and only the outermost level commits (there are no savepoints: an inner block's exception
    # that escapes undoes the whole transaction). Every write outside one is its own transaction.
    # close() releases the store and may be called again; `with store:` closes it on exit.

    def transaction(self) -> AbstractContextManager[None]: ...

    def close(self) -> None: ...

    def __enter__(self) -> StateStore: ...

    def __exit__(self, *exc_info: object) -> None: ...


# --- choosing a backend -----------------------------------------------------------------------

# A scheme as RFC 3986 spells it; anything else is a plain file path.
_URL = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?P<rest>.*)", re.DOTALL)

_FORMS = "a file path, sqlite:///relative/path or sqlite:////absolute/path"


@dataclass(frozen=True)
class StoreURL:
    """Which backend a store location names, and where it is as that backend understands it."""

    backend: str
    location: str


def parse_store_url(url_or_path: str | os.PathLike[str]) -> StoreURL:
    """A plain path, or a URL in SQLAlchemy's spelling: `sqlite:///relative/path` (relative to
    the working directory) and `sqlite:////absolute/path`. Raises StoreError for anything else."""
    text = os.fspath(url_or_path)
    match = _URL.fullmatch(text)
    if match is None:
        if not text:
            raise StoreError("the store location is empty", hint=f"give {_FORMS}")
        return StoreURL("sqlite", text)
    scheme, rest = match["scheme"].lower(), match["rest"]
    if scheme == "sqlite":
        # rest is "<host>/<path>"; sqlite has no host, so rest must start with the path's slash.
        if rest in ("", "/"):
            raise StoreError(
                f"the store URL {text} names no file",
                hint=f"write {_FORMS}; an in-memory database cannot hold a store",
            )
        if not rest.startswith("/"):
            host = rest.split("/", 1)[0]
            raise StoreError(
                f"the store URL {text} has a host part ({host}), which sqlite URLs have not",
                hint=f"write {_FORMS}",
            )
        if "?" in rest or "#" in rest:
            # SQLAlchemy reads these as options; taking them into the file name would surprise.
            raise StoreError(
                f"the store URL {text} has a query or fragment, which orchestr does not read",
                hint=f"write {_FORMS}; a file whose name holds ? or # can be given as a plain path",
            )
        return StoreURL("sqlite", rest[1:])
    if scheme == "etcd":
        hint = f"etcd:// stores come with the etcd backend; use {_FORMS}"
    else:
        hint = f"use {_FORMS}"
    raise StoreError(f"cannot open the store {text}: no {scheme}:// backend", hint=hint)


def open_store(url_or_path: str | os.PathLike[str] | None = None) -> StateStore:
    """Open the store a path or URL names (see parse_store_url); None means default_store_path(),
    i.e. ORCHESTR_STORE, which may itself be a URL, else the file in the state directory."""
    chosen = default_store_path() if url_or_path is None else url_or_path
    where = parse_store_url(chosen)
    # Only sqlite parses today; the etcd backend adds its branch here and nowhere else.
    return Store.open(where.location)
