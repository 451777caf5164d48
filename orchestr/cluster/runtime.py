"""What a run that changes services holds: the store, opened once, and its lock, taken before
the first change (up front when the playbook is known to manage services) and released at exit."""

from __future__ import annotations

from orchestr.store.lock import StoreLock
from orchestr.store.store import Store, default_store_path


class ServiceRuntime:
    def __init__(self, store_path: str | None = None, *, lock_wait: float = 0.0,
                 purpose: str = "apply", command: str = "orchestr",
                 warn=None):  # noqa: ANN001  # fmt: skip
        self.store_path = store_path or default_store_path()
        self.lock_wait = lock_wait
        self.purpose = purpose
        self.command = command
        self._warn = warn or (lambda message: None)
        self._store: Store | None = None
        self._lock: StoreLock | None = None

    def store(self) -> Store:
        """The store, locked for this run (waiting up to lock_wait for another run to finish)."""
        if self._store is None:
            self._store = Store.open(self.store_path)
            lock = StoreLock(self.store_path)
            try:
                lock.acquire(self.purpose, self.command, wait=self.lock_wait)
            except BaseException:
                self._store.close()
                self._store = None
                raise
            self._lock = lock
            if lock.stale_holder is not None:  # the flock was free, yet details were left behind
                self._warn(
                    f"the previous holder of the store lock ({lock.stale_holder.describe()})"
                    " ended without releasing it; taking over"
                )
        return self._store

    def close(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None
        if self._store is not None:
            self._store.close()
            self._store = None
