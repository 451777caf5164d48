"""The controller's state behind the StateStore interface (sqlite today), opened with open_store,
and the lock that lets one run act at a time."""

from orchestr.store.interface import StateStore, StoreURL, open_store, parse_store_url
from orchestr.store.lock import Holder, LockHeld, StoreLock
from orchestr.store.store import (
    AuditEntry,
    Deploy,
    Event,
    HealthRecord,
    SlotRecord,
    Store,
    StoredService,
    StoreError,
    default_store_path,
)

__all__ = [
    "AuditEntry",
    "Deploy",
    "Event",
    "HealthRecord",
    "Holder",
    "LockHeld",
    "SlotRecord",
    "StateStore",
    "Store",
    "StoreError",
    "StoreLock",
    "StoreURL",
    "StoredService",
    "default_store_path",
    "open_store",
    "parse_store_url",
]
