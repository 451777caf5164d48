"""docker commands for replicas (pure): what a replica is created with, and the per-host scripts
that start, stop and remove several of them in one round trip."""

from __future__ import annotations

from collections.abc import Sequence

from orchestr.cluster.model import (
    LABEL_CPUS,
    LABEL_EPOCH,
    LABEL_MANAGED,
    LABEL_MEMORY,
    LABEL_PORTS,
    LABEL_RECORD,
    LABEL_SERVICE,
    LABEL_SLOT,
    LABEL_SPEC,
    MANAGED_BY,
)
from orchestr.cluster.spec import spec_hash
from orchestr.cluster.spec_types import ServiceSpec
from orchestr.docker.commands import ContainerOptions, run_container
from orchestr.transport.command import Command, Shell


def container_name(service: str, slot: str, epoch: int) -> str:
    """Unique for ever per slot: every new container of a slot gets a new epoch."""
    return f"{service}.{slot}.e{epoch}"


def ports_label(ports: Sequence[tuple[int, int]]) -> str:
    return ",".join(f"{target}:{published}" for target, published in ports)


def parse_ports_label(text: str) -> tuple[tuple[int, int], ...]:
    pairs = []
    for item in text.split(","):
        target, sep, published = item.partition(":")
        if sep and target.isdigit() and published.isdigit():
            pairs.append((int(target), int(published)))
    return tuple(pairs)


def replica_options(
    spec: ServiceSpec, slot: str, epoch: int, ports: Sequence[tuple[int, int]], host: str = "",
    record: str = "",
) -> ContainerOptions:
    """The container of one replica: the spec, plus the labels that make the cluster its own
    record (service, slot, epoch, spec hash, reservations, published ports), and ORCHESTR_*
    variables telling the process which replica it is and where (as Swarm's templates do)."""
    labels = dict(spec.labels)
    labels.update({
        LABEL_MANAGED: MANAGED_BY, LABEL_SERVICE: spec.name, LABEL_SLOT: slot,
        LABEL_EPOCH: str(epoch), LABEL_SPEC: spec_hash(spec),
    })  # fmt: skip
    if spec.resources.cpus:
        labels[LABEL_CPUS] = f"{spec.resources.cpus:g}"
    if spec.resources.memory_mb:
        labels[LABEL_MEMORY] = str(spec.resources.memory_mb)
    if ports:
        labels[LABEL_PORTS] = ports_label(sorted(ports))
    if record:
        labels[LABEL_RECORD] = record
    # One --publish per assigned (container, host) pair: a container port may be published on
    # several host ports. Unpublished container ports need no flag.
    order = {p.target: i for i, p in reversed(list(enumerate(spec.ports)))}
    in_spec_order = sorted(ports, key=lambda pair: order.get(pair[0], len(order)))
    publish = tuple(f"{host_port}:{target}" for target, host_port in in_spec_order)
    return ContainerOptions(
        name=container_name(spec.name, slot, epoch),
        image=spec.image,
        command=spec.command,
        env=(
            *spec.env,
            ("ORCHESTR_SERVICE", spec.name),
            ("ORCHESTR_SLOT", slot),
            ("ORCHESTR_HOST", host),
        ),  # fmt: skip
        secret_env=spec.secret_env,
        labels=tuple(sorted(labels.items())),
        published_ports=publish,
        volumes=spec.volumes,
        restart_policy=spec.restart,
        stop_timeout=spec.stop_timeout,
        hostname=container_name(spec.name, slot, epoch).replace(".", "-"),
    )


def run_replica(
    spec: ServiceSpec, slot: str, epoch: int, ports: Sequence[tuple[int, int]], host: str = "",
    record: str = "",
) -> Command:
    return run_container(replica_options(spec, slot, epoch, ports, host, record))


def host_script(commands: Sequence[Command], *, keep_going: bool = True) -> Command:
    """Several docker commands as one round trip. Each one's output (errors included) is
    followed by a marker line with its index and exit status, so the caller knows which
    succeeded; with keep_going, a failure does not stop the rest (one bad replica must not hold
    up the others on that host)."""
    parts: list = []
    for index, command in enumerate(commands):
        # The marker starts a line of its own even when the output did not end in a newline.
        parts += [*command.parts, Shell(f'2>&1; s=$?; echo; echo "@@orchestr {index} $s";')]
        if not keep_going:
            parts.append(Shell("[ $s -eq 0 ] || exit 1;"))
    return Command(tuple(parts))


def parse_host_script(stdout: str, count: int) -> list[tuple[int, str]]:
    """(exit status, output) per command of a host_script; (-1, "") when it never ran."""
    results: list[tuple[int, str]] = [(-1, "")] * count
    chunk: list[str] = []
    for line in stdout.splitlines():
        if line.startswith("@@orchestr "):
            _, index, status = line.split()
            results[int(index)] = (int(status), "\n".join(chunk).strip())
            chunk = []
        else:
            chunk.append(line)
    return results


def stop_replica(name: str, timeout: int | None = None) -> Command:
    words = ["docker", "stop"]
    if timeout is not None:
        words += ["--time", str(timeout)]
    return Command((*words, name))


def remove_replica(name: str) -> Command:
    """Stop and remove at once. docker exits 0 for a container already gone, so a second run
    of the same plan does not fail."""
    return Command(("docker", "rm", "--force", name))


def start_replica(name: str) -> Command:
    return Command(("docker", "start", name))
