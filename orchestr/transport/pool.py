"""One connection per host per run, opened concurrently under two bounds, reused for every command."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, replace
from typing import TypeVar

from orchestr.transport.base import Connection, Unreachable
from orchestr.transport.command import Become, Secret
from orchestr.transport.local import LocalConnection
from orchestr.transport.settings import ConnectionSettings
from orchestr.transport.ssh import KeyCache, open_ssh

T = TypeVar("T")

DEFAULT_FORKS = 50
# sshd drops unauthenticated connections beyond MaxStartups (10:30:100 by default), and one
# asyncio loop handles ~150-300 handshakes/s (LAB-NOTES): past this many at once, more
# concurrency only adds failures, whatever --forks says.
DEFAULT_HANDSHAKES = 32
CONNECT_RETRIES = 2
RETRY_DELAY = 0.25


@dataclass(frozen=True)
class PoolOptions:
    forks: int = DEFAULT_FORKS
    handshakes: int = DEFAULT_HANDSHAKES
    connect_timeout: float | None = None  # None: the inventory's, else 10 s
    host_key_policy: str | None = None  # None: the inventory's (StrictHostKeyChecking), else strict
    become: bool | None = None  # the command line's --become overrides the inventory
    become_user: str | None = None
    become_password: str | None = None


@dataclass(frozen=True)
class Outcome:
    """What happened on one host: a value, or the reason it failed."""

    host: str
    value: object = None
    error: Exception | None = None
    duration: float = 0.0

    @property
    def unreachable(self) -> bool:
        return isinstance(self.error, Unreachable)


class Pool:
    """Connections shared by everything in a run. Use as `async with Pool(...) as pool`."""

    def __init__(self, settings: Iterable[ConnectionSettings], options: PoolOptions | None = None):
        self.options = options or PoolOptions()
        self.settings = {s.name: self._apply_cli(s) for s in settings}
        self.keys = KeyCache()
        self._forks = asyncio.Semaphore(max(1, self.options.forks))
        self._handshakes = asyncio.Semaphore(max(1, self.options.handshakes))
        self._connections: dict[str, asyncio.Task[Connection]] = {}
        # A host reached otherwise than its settings say (a play's remote_user or connection):
        # one more connection per (host, connection type, user), shared as the default one is.
        self._variants: dict[tuple[str, str, str | None], asyncio.Task[Connection]] = {}
        self._facts: dict[str, asyncio.Task] = {}
        self.handshake_count = 0  # connections actually opened: shows reuse in tests and benches

    def _apply_cli(self, settings: ConnectionSettings) -> ConnectionSettings:
        """--become/--become-user/--ask-become-pass override the inventory's ansible_become*."""
        wanted = self.options.become if self.options.become is not None else bool(settings.become)
        if not wanted:
            return replace(settings, become=None)
        base = settings.become or Become()
        password = self.options.become_password
        return replace(
            settings,
            become=Become(
                user=self.options.become_user or base.user,
                password=Secret(password) if password is not None else base.password,
                flags=base.flags,
            ),
        )

    def know(self, settings: ConnectionSettings) -> None:
        """Settings for a host this run had not planned to reach (a delegate, a host of the
        cluster outside the play); the command line's overrides apply as to the others."""
        if settings.name not in self.settings:
            self.settings[settings.name] = self._apply_cli(settings)

    async def __aenter__(self) -> Pool:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def connection(self, name: str) -> Awaitable[Connection]:
        """The host's connection, opened on first use; concurrent callers share one attempt, and a
        host that failed stays failed for the rest of the run (never hammered again)."""
        task = self._connections.get(name)
        if task is None:
            task = asyncio.ensure_future(self._open(self.settings[name]))
            self._connections[name] = task
        return asyncio.shield(task)

    def connection_for(self, settings: ConnectionSettings) -> Awaitable[Connection]:
        """A connection with these settings: the host's own when they are its settings, else
        one opened (once) for its (host, connection type, user)."""
        if self.settings.get(settings.name) == settings:
            return self.connection(settings.name)
        key = (settings.name, settings.connection, settings.user)
        task = self._variants.get(key)
        if task is None:
            task = asyncio.ensure_future(self._open(self._apply_cli(settings)))
            self._variants[key] = task
        return asyncio.shield(task)

    async def _open(self, settings: ConnectionSettings) -> Connection:
        if settings.connection == "local":
            return LocalConnection(settings.name, settings.become)
        if settings.connection not in ("ssh", "smart", "paramiko"):
            raise Unreachable(
                f"connection type {settings.connection!r} is not supported",
                hint="use ssh or local",
            )
        policy = self.options.host_key_policy or settings.host_key_policy or "strict"
        attempt = 0
        while True:
            async with self._handshakes:
                try:
                    conn = await open_ssh(
                        settings, self.keys, policy=policy, timeout=self.options.connect_timeout
                    )
                    self.handshake_count += 1
                    return conn
                except Unreachable as error:
                    # Only a refused or dropped handshake is worth another try (sshd restarting,
                    # MaxStartups shedding); a timeout already cost its full wait, and auth or
                    # host-key failures will not change. Never re-run a command: only connects.
                    if not error.transient or attempt >= CONNECT_RETRIES:
                        raise
            attempt += 1
            await asyncio.sleep(RETRY_DELAY * attempt)

    def forget(self, name: str) -> None:
        """Drop a host's connection (closing it if it was open), so the next use opens a new
        one: a watch loop retries hosts that failed, which a single run never does."""
        task = self._connections.pop(name, None)
        self._facts.pop(name, None)
        if task is None:
            return
        if not task.done():
            task.cancel()
        elif not task.cancelled() and task.exception() is None:
            asyncio.ensure_future(task.result().close())

    def facts(self, name: str) -> Awaitable:
        """The host's facts, gathered once per run in one round trip and shared."""
        from orchestr.transport.facts import gather_facts

        async def gather() -> object:
            return await gather_facts(await self.connection(name))

        if name not in self._facts:
            self._facts[name] = asyncio.ensure_future(gather())
        return asyncio.shield(self._facts[name])

    async def each(
        self, names: Iterable[str], work: Callable[[Connection], Awaitable[T]]
    ) -> list[Outcome]:
        """Run work(connection) on every host, at most `forks` at a time; one host's failure or
        slowness never holds up the others. Outcomes come back in the order of `names`."""

        async def one(name: str) -> Outcome:
            async with self._forks:
                started = time.monotonic()
                try:
                    conn = await self.connection(name)
                    value = await work(conn)
                except Exception as error:  # noqa: BLE001 - reported per host, never raised
                    return Outcome(name, error=error, duration=time.monotonic() - started)
                return Outcome(name, value=value, duration=time.monotonic() - started)

        return list(await asyncio.gather(*(one(n) for n in names)))

    async def close(self) -> None:
        async def close_one(task: asyncio.Task[Connection]) -> None:
            if task.done() and not task.cancelled() and task.exception() is None:
                await task.result().close()
            elif not task.done():
                task.cancel()

        tasks = [*self._connections.values(), *self._variants.values()]
        await asyncio.gather(*(close_one(t) for t in tasks), return_exceptions=True)
        self._connections.clear()
        self._variants.clear()


class EscalatedConnection:
    """A connection whose commands run with `become` unless a command asks otherwise."""

    def __init__(self, connection: Connection, become: bool | Become):
        self._connection = connection
        self._become = become
        self.name = connection.name

    async def run(self, command, *, become: bool | Become | None = None, **options):  # noqa: ANN001, ANN201
        return await self._connection.run(
            command, become=self._become if become is None else become, **options
        )

    async def put(self, source: bytes | str, remote_path: str, mode: int = 0o644) -> None:
        await Connection.put(self, source, remote_path, mode)  # type: ignore[arg-type]

    def __getattr__(self, name: str):  # noqa: ANN204 - everything else is the connection's
        return getattr(self._connection, name)


class EscalatedPool:
    """The pool as a play with `become` sees it: the same connections, each command escalated
    as the play's tasks are (a play's become reaches the cluster's observe, rollout and
    publish, not only -b or the inventory's ansible_become)."""

    def __init__(self, pool: Pool, become: bool | Become):
        self._pool = pool
        self._become = become

    async def connection(self, name: str) -> EscalatedConnection:
        return EscalatedConnection(await self._pool.connection(name), self._become)

    async def each(
        self, names: Iterable[str], work: Callable[[Connection], Awaitable[T]]
    ) -> list[Outcome]:
        return await self._pool.each(
            names, lambda connection: work(EscalatedConnection(connection, self._become))
        )

    def __getattr__(self, name: str):  # noqa: ANN204 - settings, forget, facts...: the pool's
        return getattr(self._pool, name)
