"""The values the cluster core decides with: hosts as the scheduler sees them, managed containers
as observed, and what each host already carries. Plain frozen data, no effects."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# Labels every managed container carries: the cluster is its own record of what runs.
LABEL_MANAGED = "orchestr.managed-by"
LABEL_SERVICE = "orchestr.service"
LABEL_SLOT = "orchestr.slot"
LABEL_EPOCH = "orchestr.epoch"
LABEL_SPEC = "orchestr.spec"
LABEL_CPUS = "orchestr.cpus"
LABEL_MEMORY = "orchestr.memory-mb"
LABEL_PORTS = "orchestr.ports"  # "80:8080,443:8443" (container:host) for discovery and health
# The service's record (spec without env values, candidates): a lost store is rebuilt from it.
LABEL_RECORD = "orchestr.record"
MANAGED_BY = "orchestr"
# docker states in which a container holds its reservation and ports.
LIVE_STATES = frozenset({"running", "restarting", "created", "paused"})


def slot_key(slot: str) -> tuple[int, str]:
    """Natural order of slots: "2" before "10"; host-named slots (global services) by name."""
    return (int(slot), "") if slot.isdigit() else (1 << 30, slot)


@dataclass(frozen=True)
class Resources:
    """Reserved on a host per replica (not a limit): what the scheduler counts."""

    cpus: float = 0.0
    memory_mb: int = 0

    def __add__(self, other: Resources) -> Resources:
        return Resources(self.cpus + other.cpus, self.memory_mb + other.memory_mb)

    def __sub__(self, other: Resources) -> Resources:
        return Resources(self.cpus - other.cpus, self.memory_mb - other.memory_mb)

    def fits_within(self, capacity: Resources) -> bool:
        # A tolerance: 0.1 + 0.2 reserved on a 0.3-cpu host must fit.
        return self.cpus <= capacity.cpus + 1e-9 and self.memory_mb <= capacity.memory_mb


@dataclass(frozen=True)
class HostView:
    """A candidate host as the scheduler sees it.

    `attributes` is what constraints and placement preferences read: the host's inventory vars,
    plus `inventory_hostname`, `group_names` and facts under `facts.` (facts.os_id,
    facts.docker_version, facts.arch, facts.cpus, facts.memory_mb...)."""

    name: str
    attributes: Mapping[str, Any] = field(default_factory=dict)
    capacity: Resources = Resources()
    up: bool = True  # reachable and docker answers
    schedulable: bool = True  # False once drained
    address: str = ""  # where clients reach its published ports


@dataclass(frozen=True)
class Container:
    """One managed container as observed on a host (from its labels and `docker inspect`)."""

    host: str
    name: str
    service: str
    slot: str
    epoch: int
    spec_hash: str
    state: str = "running"  # docker's State.Status: running, exited, created, paused, restarting
    health: str | None = None  # docker's own HEALTHCHECK status, if the image has one
    exit_code: int = 0
    restart_count: int = 0
    started_at: str = ""
    image: str = ""
    reserved: Resources = Resources()
    ports: tuple[tuple[int, int], ...] = ()  # (container port, host port) published, tcp
    address: str = ""  # the container's own IP on its network, "" when unknown
    id: str = ""

    @property
    def running(self) -> bool:
        return self.state == "running"


@dataclass
class HostUsage:
    """What one host already carries, as the scheduler counts it. Mutable on purpose: the
    scheduler works on its own copy (see `copy`) and updates it as it places replicas."""

    containers: int = 0  # all managed containers on the host
    per_service: dict[str, int] = field(default_factory=dict)
    reserved: Resources = Resources()
    ports: set[int] = field(default_factory=set)  # host TCP ports taken (listening or published)

    def copy(self) -> HostUsage:
        return HostUsage(self.containers, dict(self.per_service), self.reserved, set(self.ports))

    def add(self, service: str, reserved: Resources, ports: tuple[int, ...] = ()) -> None:
        self.containers += 1
        self.per_service[service] = self.per_service.get(service, 0) + 1
        self.reserved = self.reserved + reserved
        self.ports.update(ports)

    def remove(self, service: str, reserved: Resources, ports: tuple[int, ...] = ()) -> None:
        self.containers -= 1
        self.per_service[service] = self.per_service.get(service, 0) - 1
        if self.per_service[service] <= 0:
            del self.per_service[service]
        self.reserved = self.reserved - reserved
        self.ports.difference_update(ports)


def usage_from(
    containers: list[Container], ports_in_use: Mapping[str, tuple[int, ...]] | None = None
) -> dict[str, HostUsage]:
    """Per-host usage from observed containers (only live ones hold resources and ports) and the
    hosts' own listening ports (facts)."""
    usage: dict[str, HostUsage] = {}
    for host, ports in (ports_in_use or {}).items():
        usage.setdefault(host, HostUsage()).ports.update(ports)
    for container in containers:
        if container.state in LIVE_STATES:
            host_ports = tuple(host_port for _, host_port in container.ports)
            usage.setdefault(container.host, HostUsage()).add(
                container.service, container.reserved, host_ports
            )
    return usage
