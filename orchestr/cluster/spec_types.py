"""The parts of a service spec, as validated values (parsing lives in spec.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from orchestr.cluster.model import Resources


@dataclass(frozen=True)
class PortSpec:
    """A container port and where it is published on the host.

    published: a fixed host port; published_range: pick the lowest free port in (low, high) on
    the chosen host; neither: not published (reachable on the container's network only)."""

    target: int
    published: int | None = None
    published_range: tuple[int, int] | None = None

    @property
    def fixed(self) -> bool:
        return self.published is not None


@dataclass(frozen=True)
class Constraint:
    """`attribute op value`, e.g. `zone == a`, `facts.docker_version >= 20.10`, `gpu exists`.

    op: == != in not_in =~ (regex search) !~ exists missing < <= > >= (version compare) contains."""

    attribute: str
    op: str
    value: Any = None
    text: str = ""  # as the user wrote it, for reasons ("ruled out by zone == eu1")


@dataclass(frozen=True)
class Affinity:
    """Placement relative to another service: with it (affinity) or away from it (anti)."""

    service: str
    anti: bool = False
    hard: bool = True  # hard: a filter; soft: a preference in scoring


@dataclass(frozen=True)
class HealthSpec:
    """How a replica's health is checked, with HAProxy's vocabulary.

    kind: http (path on port; 200-399 passes), tcp (connect to port), exec (command in the
    container exits 0), docker (the image's own HEALTHCHECK status)."""

    kind: str
    port: int | None = None  # a container port (the service's first port if not given)
    path: str = "/"
    command: tuple[str, ...] = ()
    interval: float = 2.0
    timeout: float = 2.0
    fall: int = 3
    rise: int = 2
    start_period: float = 0.0


@dataclass(frozen=True)
class UpdatePolicy:
    parallelism: int = 1
    delay: float = 0.0
    order: str = "stop-first"  # or start-first
    monitor: float = 5.0  # seconds a new replica must stay healthy before it counts
    failure_action: str = "rollback"  # rollback | pause | continue
    max_failure_ratio: float = 0.0


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    image: str
    command: tuple[str, ...] | None = None
    env: tuple[tuple[str, str], ...] = ()
    secret_env: frozenset[str] = frozenset()  # names whose values are masked everywhere
    labels: tuple[tuple[str, str], ...] = ()
    ports: tuple[PortSpec, ...] = ()
    volumes: tuple[str, ...] = ()
    restart: str = "unless-stopped"
    mode: str = "replicated"  # or global: one replica per eligible host
    replicas: int = 1
    resources: Resources = Resources()
    constraints: tuple[Constraint, ...] = ()
    preferences: tuple[str, ...] = ()  # spread over these host attributes, in order
    affinity: tuple[Affinity, ...] = ()
    max_per_host: int | None = None
    strategy: str = "spread"  # spread | binpack | random
    health: HealthSpec | None = None
    update: UpdatePolicy = UpdatePolicy()
    stop_timeout: int | None = None
    lb_port: int | None = None  # HAProxy listens here for this service (discovery)
    state: str = "present"  # or absent: every replica removed
    location: str = ""  # file:line of the task that declared it
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
