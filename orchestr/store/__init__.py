"""The controller's state (a sqlite file) and the lock that lets one run act at a time."""

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
    "Store",
    "StoreError",
    "StoreLock",
    "StoredService",
    "default_store_path",
]
