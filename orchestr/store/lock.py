"""One run acts on the cluster at a time: an flock on `<store>.lock`, with the holder's details
written into the file so a refused run can say who is in the way.

flock belongs to the open file, so the kernel drops it when the holder exits however it exits; a
dead holder can never block the next run. The file itself is never deleted (unlinking it would
let two runs lock two different inodes); a clean release empties it, so details still present
when the lock is taken belong to a holder that died holding it.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from orchestr.errors import EXIT_ERROR, OrchestrError
from orchestr.store.store import StoreError, login_name, make_private_dirs

POLL_INTERVAL = 0.1
_MAX_DETAILS = 64 * 1024


@dataclass(frozen=True)
class Holder:
    """Who holds (or held) the lock, as written into the lock file."""

    pid: int
    hostname: str
    user: str
    command: str
    purpose: str
    since: float

    def describe(self) -> str:
        """`pid 1234 (root@host, `orchestr apply site.yml`, apply) since 12:03:04`"""
        return (
            f"pid {self.pid} ({self.user}@{self.hostname}, `{self.command}`, {self.purpose}) "
            f"since {_clock(self.since)}"
        )

    def is_gone(self) -> bool:
        """True only when the holder certainly no longer runs: its pid is free on this host."""
        if self.hostname != socket.gethostname():
            return False  # another machine's pid says nothing here
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False  # exists, owned by someone else
        return False


def _clock(at: float) -> str:
    # The time alone reads best; a date only when the holder has been there since another day.
    moment = time.localtime(at)
    if time.strftime("%Y-%m-%d", moment) == time.strftime("%Y-%m-%d"):
        return time.strftime("%H:%M:%S", moment)
    return time.strftime("%Y-%m-%d %H:%M:%S", moment)


def _parse_holder(raw: bytes) -> Holder | None:
    """The details in a lock file, or None when it is empty or half-written."""
    if not raw.strip():
        return None
    try:
        data = json.loads(raw)
        return Holder(
            pid=int(data["pid"]),
            hostname=str(data["hostname"]),
            user=str(data["user"]),
            command=str(data["command"]),
            purpose=str(data["purpose"]),
            since=float(data["since"]),
        )
    except (ValueError, KeyError, TypeError):
        return None


class LockHeld(OrchestrError):
    """Another run holds the store lock."""

    exit_code = EXIT_ERROR

    def __init__(self, holder: Holder | None, waited: float):
        self.holder = holder
        self.waited = waited
        who = f"by {holder.describe()}" if holder else "by another orchestr run"
        message = f"the store is locked {who}"
        if holder and holder.is_gone():
            message += " (that process is gone, but one it started still holds the lock)"
        if waited > 0:
            message += f"; waited {waited:g} s, wait longer with --lock-wait SECONDS"
        else:
            message += "; wait for it with --lock-wait SECONDS"
        super().__init__(message)


class StoreLock:
    """The run lock of the store at `store_path`. Not re-entrant: one acquire, one release."""

    def __init__(self, store_path: str | os.PathLike[str]):
        self.path = os.fspath(store_path) + ".lock"
        self._fd: int | None = None
        # Details left by a holder that died holding the lock, found by the last acquire.
        self.stale_holder: Holder | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self, purpose: str, command: str, wait: float = 0.0) -> StoreLock:
        """Take the lock, polling for up to `wait` seconds; LockHeld if it stays taken.

        Returns self, so `with StoreLock(path).acquire(...) as lock:` releases on the way out."""
        if self._fd is not None:
            raise RuntimeError("StoreLock.acquire called twice without release")
        fd = self._open()
        deadline = time.monotonic() + max(wait, 0.0)
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise LockHeld(_parse_holder(self._read(fd)), max(wait, 0.0)) from None
                    time.sleep(min(POLL_INTERVAL, left))
            self.stale_holder = _parse_holder(self._read(fd))
            me = Holder(
                pid=os.getpid(),
                hostname=socket.gethostname(),
                user=login_name(),
                command=command,
                purpose=purpose,
                since=time.time(),
            )
            data = json.dumps(asdict(me), sort_keys=True).encode() + b"\n"
            os.ftruncate(fd, 0)
            os.pwrite(fd, data, 0)
            os.fsync(fd)  # the details must survive a crash of this host to explain it later
        except BaseException:
            os.close(fd)  # also drops the flock if it was taken
            raise
        self._fd = fd
        return self

    def release(self) -> None:
        """Empty the file (a clean exit leaves no details behind), then unlock. Idempotent."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def __enter__(self) -> StoreLock:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()

    def _open(self) -> int:
        try:
            make_private_dirs(Path(self.path).parent)
            return os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise StoreError(
                f"cannot open the store lock {self.path}: {exc.strerror or exc}",
                hint="check the directory's permissions, or point ORCHESTR_STORE elsewhere",
            ) from exc

    @staticmethod
    def _read(fd: int) -> bytes:
        return os.pread(fd, _MAX_DETAILS, 0)
