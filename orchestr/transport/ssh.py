"""SSH to a host with asyncssh: one connection, many commands, every step bounded by a timeout."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import asyncssh

from orchestr.errors import OrchestrError


@dataclass(frozen=True)
class Result:
    """What one remote command did."""

    rc: int
    stdout: str
    stderr: str
    duration: float

    @property
    def ok(self) -> bool:
        return self.rc == 0


class Unreachable(OrchestrError):
    """The host could not be connected to (refused, timed out, host key, auth)."""


class CommandTimeout(OrchestrError):
    """A command did not finish in time; it may still be running on the host."""


@dataclass(frozen=True)
class SSHSettings:
    address: str
    port: int = 22
    user: str = "root"


@dataclass(frozen=True)
class Credentials:
    """Keys and known hosts, read once per run and shared by every connection: re-reading a key
    file per host costs milliseconds of CPU each (see LAB-NOTES)."""

    client_keys: tuple
    known_hosts: object

    @classmethod
    def from_files(cls, private_key_path: str, known_hosts_path: str) -> Credentials:
        return cls(
            client_keys=(asyncssh.read_private_key(private_key_path),),
            known_hosts=asyncssh.read_known_hosts(known_hosts_path),
        )


async def connect(
    settings: SSHSettings, credentials: Credentials, *, timeout: float = 10.0
) -> asyncssh.SSHClientConnection:
    where = f"{settings.user}@{settings.address}:{settings.port}"
    try:
        return await asyncssh.connect(
            settings.address,
            port=settings.port,
            username=settings.user,
            client_keys=list(credentials.client_keys),
            known_hosts=credentials.known_hosts,
            agent_path=None,
            config=None,
            connect_timeout=timeout,
            login_timeout=timeout,
            keepalive_interval=15,
            keepalive_count_max=3,
        )
    except TimeoutError:
        raise Unreachable(f"{where}: connect timed out after {timeout:g} s") from None
    except asyncssh.HostKeyNotVerifiable as error:
        raise Unreachable(
            f"{where}: host key not verifiable: {error.reason}",
            hint="check known_hosts; a changed host key is never accepted silently",
        ) from None
    except asyncssh.PermissionDenied as error:
        raise Unreachable(f"{where}: authentication failed: {error.reason}") from None
    except (OSError, asyncssh.Error) as error:
        reason = getattr(error, "reason", None) or getattr(error, "strerror", None) or str(error)
        raise Unreachable(f"{where}: {reason}") from None


async def run(conn: asyncssh.SSHClientConnection, command: str, *, timeout: float) -> Result:
    """Run a shell command line on an open connection; raises CommandTimeout when it overruns."""
    started = time.monotonic()
    try:
        done = await asyncio.wait_for(conn.run(command, check=False), timeout)
    except TimeoutError:
        raise CommandTimeout(f"command did not finish within {timeout:g} s") from None
    except (OSError, asyncssh.Error) as error:
        raise Unreachable(f"connection lost: {error}") from None
    return Result(
        rc=done.exit_status if done.exit_status is not None else -1,
        stdout=str(done.stdout or ""),
        stderr=str(done.stderr or ""),
        duration=time.monotonic() - started,
    )
