"""A fleet of fake hosts for the orchestration layer: a pool whose connections run each command
with a real `sh -c`, a `docker` in PATH answered by a FakeDocker per host (fakedockerd.py), a
real inventory, store and zone-file publisher. Every docker call and every publish is appended,
in order, to one shared log, so a test can say what came first."""

from __future__ import annotations

import asyncio
import copy
import os
import shlex
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import fakedockerd

from orchestr.cluster.spec import parse_service
from orchestr.cluster.spec_types import ServiceSpec
from orchestr.cluster.world import Cluster
from orchestr.discovery.publish import Publisher, PublishOutcome
from orchestr.discovery.snapshot import Snapshot
from orchestr.inventory import load_inventory
from orchestr.store.store import Store
from orchestr.transport.base import Result, Unreachable
from orchestr.transport.command import Become, Command, as_command
from orchestr.transport.pool import Outcome
from orchestr.transport.settings import ConnectionSettings

HOSTS = ("node1", "node2", "node3", "node4")
IMAGES = {"app:1": fakedockerd.image("sha256:app1"), "app:2": fakedockerd.image("sha256:app2")}
ZONE = "orchestr.internal"

# The facts script reads this machine's listening ports from /proc/net/tcp: left out, so a
# port some process happens to hold here cannot change where replicas go.
AWK = """#!/bin/sh
case "$*" in */proc/net/tcp*) exit 0 ;; esac
exec {awk} "$@"
"""


@dataclass(frozen=True)
class Sent:
    """One command a fake host was given."""

    host: str
    text: str
    become: bool | Become | None


class FakeHost:
    """A connection whose commands run under a real `sh -c` with the fake `docker` first in
    PATH; what each command was and the `become` it carried are recorded."""

    def __init__(self, fleet: Fleet, name: str):
        self.fleet = fleet
        self.name = name

    async def run(self, command: Command | str | list[str], *, stdin: Any = None,
                  timeout: float | None = None, on_line: Any = None,
                  become: bool | Become | None = None) -> Result:  # fmt: skip
        if self.name in self.fleet.down:
            raise Unreachable(f"{self.name}: connection lost (killed by the test)")
        text = as_command(command).render()
        self.fleet.sent.append(Sent(self.name, text, become))
        started = time.monotonic()
        process = await asyncio.create_subprocess_exec(
            "/bin/sh", "-c", text, env=self.fleet.environment(self.name),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        data = stdin if isinstance(stdin, bytes) else None
        out, err = await asyncio.wait_for(process.communicate(data), timeout)
        return Result(process.returncode or 0, out.decode(), err.decode(),
                      time.monotonic() - started)  # fmt: skip

    async def close(self) -> None:
        return None


class FakePool:
    """What the cluster asks of orchestr's Pool: settings, know, connection, each, forget."""

    def __init__(self, fleet: Fleet):
        self.fleet = fleet
        self.settings: dict[str, ConnectionSettings] = {}
        self.handshake_count = 0
        self._open: dict[str, FakeHost] = {}

    def know(self, settings: ConnectionSettings) -> None:
        self.settings.setdefault(settings.name, settings)

    async def connection(self, name: str) -> FakeHost:
        if name not in self.settings:  # as the real pool: a host must be known first
            raise KeyError(name)
        if name in self.fleet.down:
            raise Unreachable(f"{name}: connection refused (killed by the test)")
        if name not in self._open:
            self.handshake_count += 1
            self._open[name] = FakeHost(self.fleet, name)
        return self._open[name]

    async def each(self, names: Iterable[str],
                   work: Callable[[Any], Awaitable[Any]]) -> list[Outcome]:  # fmt: skip
        async def one(name: str) -> Outcome:
            try:
                value = await work(await self.connection(name))
            except Exception as error:  # noqa: BLE001 - per host, never raised
                return Outcome(name, error=error)
            return Outcome(name, value=value)

        return list(await asyncio.gather(*(one(n) for n in names)))

    def forget(self, name: str) -> None:
        self._open.pop(name, None)

    async def close(self) -> None:
        self._open.clear()


class RecordingPublisher(Publisher):
    """The real publisher (zone file, no LB hosts) that first notes each snapshot it is given
    in the fleet's ordered log."""

    def __init__(self, fleet: Fleet):
        super().__init__(fleet.inventory, [], str(fleet.zone_file), ZONE)
        self.fleet = fleet

    async def publish(self, cluster: Any, snapshot: Snapshot) -> PublishOutcome:
        self.fleet.snapshots.append(snapshot)
        self.fleet.entries.append(Entry(snapshot=snapshot))
        return await super().publish(cluster, snapshot)


@dataclass(frozen=True)
class Entry:
    """A line of the ordered log: a docker call on a host, or a publish (its snapshot)."""

    host: str = ""
    argv: tuple[str, ...] = ()
    snapshot: Snapshot | None = None


@dataclass
class Fleet:
    root: Path
    hosts: tuple[str, ...] = HOSTS
    images: dict[str, dict[str, Any]] = field(default_factory=lambda: dict(IMAGES))
    down: set[str] = field(default_factory=set)  # hosts a test killed: unreachable
    sent: list[Sent] = field(default_factory=list)  # every command a fake host was given
    snapshots: list[Snapshot] = field(default_factory=list)  # every snapshot published
    entries: list[Entry] = field(default_factory=list)  # docker calls and publishes, in order

    def __post_init__(self) -> None:
        self.dockers = {host: fakedockerd.ClusterDocker(images=copy.deepcopy(self.images))
                        for host in self.hosts}  # fmt: skip
        self.daemon = fakedockerd.Daemon(self.dockers, self._record)
        bin_dir = self.root / "bin"
        bin_dir.mkdir(parents=True)
        for name, text in (("docker", self.daemon.client()),
                           ("awk", AWK.format(awk=shlex.quote(_which("awk"))))):  # fmt: skip
            program = bin_dir / name
            program.write_text(text)
            program.chmod(0o755)
        self.zone_file = self.root / "zone" / "orchestr.zone"
        self.zone_file.parent.mkdir()
        inventory = self.root / "inventory.yml"
        inventory.write_text("all:\n  hosts:\n" + "".join(
            f"    {host}:\n      ansible_host: {self.address_of(i)}\n"
            for i, host in enumerate(self.hosts)))  # fmt: skip
        self.inventory = load_inventory([str(inventory)])
        self.store = Store.open(self.root / "state.db")
        path = os.environ.get("PATH", "/usr/bin:/bin")
        self._env = {**os.environ, "PATH": f"{bin_dir}:{path}"}

    def close(self) -> None:
        self.daemon.close()
        self.store.close()

    def _record(self, host: str, argv: list[str]) -> None:
        self.entries.append(Entry(host, tuple(argv)))

    @staticmethod
    def address_of(index: int) -> str:
        return f"198.18.0.{11 + index}"

    # -- the hosts ----------------------------------------------------------------------------

    def environment(self, host: str) -> dict[str, str]:
        return {**self._env, "FAKE_DOCKER_HOST": host}

    def kill(self, host: str) -> None:
        """The host stops answering (its docker state stays, as a real host's disk does)."""
        self.down.add(host)

    def revive(self, host: str) -> None:
        self.down.discard(host)

    def replicas(self, service: str | None = None) -> dict[str, str]:
        """container name -> host, of the managed containers on every host (or one service's)."""
        found = {}
        for host, docker in self.dockers.items():
            for name, container in docker.containers.items():
                labels = container["Config"]["Labels"] or {}
                if service is None or labels.get("orchestr.service") == service:
                    found[name] = host
        return found

    def running(self, service: str) -> dict[str, str]:
        """container name -> host, of a service's running containers."""
        return {name: host for name, host in self.replicas(service).items()
                if self.dockers[host].containers[name]["State"]["Running"]}  # fmt: skip

    # -- the handle ---------------------------------------------------------------------------

    def cluster(self, *, publish: bool = True) -> Cluster:
        """A new handle, as each orchestr command builds its own: a new pool, the same store."""
        return Cluster(FakePool(self), self.inventory, store=self.store,
                       publisher=RecordingPublisher(self) if publish else None,
                       command="orchestr test")  # fmt: skip

    # -- what happened ------------------------------------------------------------------------

    def zone_addresses(self) -> dict[str, set[str]]:
        """Name -> its A records in the zone file as last written."""
        from dnslib import QTYPE, RR

        found: dict[str, set[str]] = {}
        for record in RR.fromZone(self.zone_file.read_text(encoding="utf-8")):
            if record.rtype == QTYPE.A:
                name = str(record.rname).removesuffix(f".{ZONE}.")
                found.setdefault(name, set()).add(str(record.rdata))
        return found

    def address(self, host: str) -> str:
        return str(self.inventory.hosts[host].vars["ansible_host"])


def endpoints(snapshot: Snapshot, service: str) -> set[tuple[str, str, int]]:
    """(slot, host, port) of a service's healthy endpoints in a snapshot."""
    found = snapshot.service(service)
    return {(e.slot, e.host, e.port) for e in found.healthy} if found else set()


def position(log: list[Entry], host: str, *argv: str) -> int:
    """Where in the log `host` was sent a docker command starting with `argv` (the only one)."""
    (index,) = [i for i, e in enumerate(log) if e.host == host and e.argv[: len(argv)] == argv]
    return index


def spec(name: str, **args: Any) -> ServiceSpec:
    """A service without health checks and with no monitor period: a rollout never waits."""
    return parse_service({"name": name, "image": "app:1", "update": {"monitor": 0}, **args})


def _which(program: str) -> str:
    for directory in os.environ.get("PATH", "/usr/bin:/bin").split(":"):
        candidate = Path(directory) / program
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    raise FileNotFoundError(program)


# -- the CLI verbs' changes, built as orchestr/cluster/cli.py builds them ----------------------


def stored_change(store: Store, name: str, **spec_changes: Any) -> Any:
    """A change of a stored service on its stored candidates (scale, drain, a rollback)."""
    from dataclasses import replace

    from orchestr.cluster.deploy import Change
    from orchestr.cluster.spec import spec_from_dict

    stored = store.get_service(name)
    return Change(replace(spec_from_dict(stored.spec), **spec_changes), tuple(stored.hosts))


def drain_changes(store: Store, host: str) -> list[Any]:
    """Every service that may run on `host`, each on its own candidates (drain, undrain)."""
    return [stored_change(store, s.name) for s in store.services() if host in s.hosts]


def slot_hosts(store: Store, service: str) -> dict[str, tuple[int, str]]:
    return {slot: (r.epoch, r.host) for slot, r in store.slots(service).items()}
