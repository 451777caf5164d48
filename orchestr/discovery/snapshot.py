"""The discovery snapshot (pure): for each service, the endpoints clients may use, from observed
containers, the store's slot record and health verdicts. HAProxy's config and the DNS zone are
both rendered from it, so they always agree."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from orchestr.cluster.model import Container, slot_key
from orchestr.cluster.spec_types import HealthSpec, ServiceSpec


@dataclass(frozen=True)
class Endpoint:
    """One replica as clients reach it: the host's address and the published host port."""

    service: str
    slot: str
    host: str  # inventory name
    address: str  # where the host is reached (ansible_host, else the name)
    port: int  # published host port of the service's first container port
    weight: int = 100
    healthy: bool = True

    @property
    def server_name(self) -> str:
        """HAProxy server name: stable per slot, so the runtime API and state file find it."""
        return f"{self.service}-{self.slot}"


@dataclass(frozen=True)
class ServiceEndpoints:
    name: str
    target_port: int  # the container port clients are sent to
    lb_port: int | None  # the port HAProxy listens on for it (None: DNS only)
    health: HealthSpec | None
    endpoints: tuple[Endpoint, ...] = ()

    @property
    def healthy(self) -> tuple[Endpoint, ...]:
        return tuple(e for e in self.endpoints if e.healthy)


@dataclass(frozen=True)
class Snapshot:
    services: tuple[ServiceEndpoints, ...] = ()
    hosts: Mapping[str, str] = field(default_factory=dict)  # inventory name -> address

    def service(self, name: str) -> ServiceEndpoints | None:
        return next((s for s in self.services if s.name == name), None)


def build_snapshot(
    specs: Sequence[ServiceSpec],
    containers: Sequence[Container],
    current_epochs: Mapping[str, Mapping[str, int]],
    addresses: Mapping[str, str],
    unhealthy: frozenset[str] = frozenset(),
) -> Snapshot:
    """Endpoints are current replicas (epoch == the store's for their slot: a stale copy is never
    an endpoint) that run and publish the service's first port; those named in `unhealthy`
    (container names) are kept but marked, so HAProxy can hold them in maintenance while DNS
    leaves them out. Services without a published port have no endpoints."""
    services = []
    for spec in sorted(specs, key=lambda s: s.name):
        if spec.state != "present":
            continue
        first = spec.ports[0] if spec.ports else None
        epochs = current_epochs.get(spec.name, {})
        endpoints = []
        for c in containers:
            if c.service != spec.name or epochs.get(c.slot) != c.epoch or not c.running:
                continue
            if first is None or c.host not in addresses:
                continue
            port = next((h for t, h in c.ports if t == first.target), None)
            if port is None:
                continue
            endpoints.append(Endpoint(spec.name, c.slot, c.host, addresses[c.host], port,
                                      healthy=c.name not in unhealthy))  # fmt: skip
        endpoints.sort(key=lambda e: (slot_key(e.slot), e.host))
        services.append(ServiceEndpoints(
            name=spec.name, target_port=first.target if first else 0,
            lb_port=spec.lb_port, health=spec.health, endpoints=tuple(endpoints),
        ))  # fmt: skip
    return Snapshot(tuple(services), dict(sorted(addresses.items())))
