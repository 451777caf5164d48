"""Observe the cluster: one round trip per host reads its facts, every managed container (from
its labels and `docker inspect`) and which of the wanted images it has. Parsing is pure."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from orchestr.cluster.commands import parse_ports_label
from orchestr.cluster.model import (
    LABEL_CPUS,
    LABEL_EPOCH,
    LABEL_MANAGED,
    LABEL_MEMORY,
    LABEL_PORTS,
    LABEL_SERVICE,
    LABEL_SLOT,
    LABEL_SPEC,
    MANAGED_BY,
    Container,
    Resources,
)
from orchestr.transport.command import Command
from orchestr.transport.facts import FACTS_SCRIPT, Facts, parse_facts
from orchestr.transport.pool import Outcome, Pool

CONTAINERS_MARK = "@@orchestr containers"
IMAGES_MARK = "@@orchestr images"
DOCKER_OK_MARK = "@@orchestr docker answered"
FACTS_MARK = "@@orchestr facts"
EXTRA_MARK = "@@orchestr extra"


@dataclass(frozen=True)
class HostObservation:
    host: str
    facts: Facts
    containers: tuple[Container, ...] = ()
    images: dict[str, str] = field(default_factory=dict)  # wanted image -> id ("" if absent)
    extra_output: str = ""  # what the `extra` script printed (health probe lines)

    @property
    def docker_ok(self) -> bool:
        return bool(self.facts.docker_version)


def observe_script(images: Sequence[str] = (), *, light: bool = False, extra: str = "") -> Command:
    """One round trip: the host's facts (unless `light`: a watch loop knows them and only needs
    to know docker answers), its managed containers, the wanted images' ids, and `extra`
    (health probes). The independent parts run at once, each into its own file, and are printed
    in a fixed order at the end: the docker calls of a host take the time of the slowest."""
    import shlex

    lookups = "".join(
        f"printf '%s\\t%s\\n' {shlex.quote(image)} "
        f"\"$(docker image inspect -f '{{{{.Id}}}}' {shlex.quote(image)} 2>/dev/null)\"\n"
        for image in images
    )
    lines = ["out=$(mktemp -d)"]
    if not light:
        lines.append(f'( {FACTS_SCRIPT}\n) >"$out/facts" 2>/dev/null &')
    if lookups:
        lines.append(f'( {lookups}) >"$out/images" &')
    if extra:
        lines.append(f'( {extra}\n) >"$out/extra" 2>/dev/null &')
    lines += [
        f"echo '{CONTAINERS_MARK}'",
        f"ids=$(docker ps -aq --no-trunc --filter label={LABEL_MANAGED}={MANAGED_BY}) && "
        f"echo '{DOCKER_OK_MARK}'",
        '[ -z "$ids" ] || docker inspect $ids',
        "wait",
        f"echo '{FACTS_MARK}'; cat \"$out/facts\" 2>/dev/null",
        f"echo '{IMAGES_MARK}'; cat \"$out/images\" 2>/dev/null",
        f"echo '{EXTRA_MARK}'; cat \"$out/extra\" 2>/dev/null",
        'rm -rf "$out"',
    ]
    return Command.shell("\n".join(lines))


def parse_observation(host: str, stdout: str, known: Facts | None = None) -> HostObservation:
    """`known`: the facts of a light observation (docker_version blanked if docker did not
    answer this time)."""
    rest, _, extra = stdout.partition(EXTRA_MARK)
    rest, _, images_text = rest.partition(IMAGES_MARK)
    rest, _, facts_text = rest.partition(FACTS_MARK)
    _, _, containers_text = rest.partition(CONTAINERS_MARK)
    docker_answered = DOCKER_OK_MARK in containers_text
    containers_text = containers_text.replace(DOCKER_OK_MARK, "")
    images = {}
    for line in images_text.strip().splitlines():
        name, _, image_id = line.partition("\t")
        images[name] = image_id.strip()
    if known is not None:
        facts = known if docker_answered else replace(known, docker_version="")
    else:
        facts = parse_facts(facts_text)
    return HostObservation(
        host=host,
        facts=facts,
        containers=parse_containers(host, containers_text),
        images=images,
        extra_output=extra,
    )


def parse_containers(host: str, inspect_json: str) -> tuple[Container, ...]:
    """Managed containers from `docker inspect` output; containers whose labels are not ours or
    are damaged are left out (orchestr never touches what it cannot identify)."""
    text = inspect_json.strip()
    if not text:
        return ()
    found = []
    for item in json.loads(text):
        container = _container(host, item)
        if container is not None:
            found.append(container)
    return tuple(sorted(found, key=lambda c: c.name))


def _container(host: str, item: dict[str, Any]) -> Container | None:
    config = item.get("Config") or {}
    labels = config.get("Labels") or {}
    if labels.get(LABEL_MANAGED) != MANAGED_BY:
        return None
    try:
        epoch = int(labels.get(LABEL_EPOCH, ""))
        service, slot = labels[LABEL_SERVICE], labels[LABEL_SLOT]
        reserved = Resources(cpus=float(labels.get(LABEL_CPUS) or 0),
                             memory_mb=int(labels.get(LABEL_MEMORY) or 0))  # fmt: skip
    except (KeyError, ValueError):
        return None  # labels damaged by hand: not a container orchestr can reason about
    state = item.get("State") or {}
    health = (state.get("Health") or {}).get("Status")
    networks = (item.get("NetworkSettings") or {}).get("Networks") or {}
    address = next((n.get("IPAddress") for n in networks.values() if n.get("IPAddress")), "")
    return Container(
        host=host,
        name=(item.get("Name") or "").lstrip("/"),
        service=service,
        slot=slot,
        epoch=epoch,
        spec_hash=labels.get(LABEL_SPEC, ""),
        state=state.get("Status", "unknown"),
        health=health,
        exit_code=int(state.get("ExitCode") or 0),
        restart_count=int(item.get("RestartCount") or 0),
        started_at=state.get("StartedAt", ""),
        image=config.get("Image", ""),
        reserved=reserved,
        ports=parse_ports_label(labels.get(LABEL_PORTS, "")),
        address=address or "",
        id=item.get("Id", ""),
    )


async def observe_hosts(
    pool: Pool, hosts: Sequence[str], images: Sequence[str] = (), timeout: float = 30.0, *,
    known: Mapping[str, Facts] | None = None, extra: Mapping[str, str] | None = None,
) -> dict[str, HostObservation | Exception]:  # fmt: skip
    """Every host at once; a host that cannot be reached or read maps to its error. Hosts in
    `known` are observed light (their facts are reused); `extra` adds a script per host."""
    known = known or {}
    extra = extra or {}

    async def one(connection) -> HostObservation:  # noqa: ANN001
        name = connection.name
        script = observe_script(images, light=name in known, extra=extra.get(name, ""))
        result = await connection.run(script, timeout=timeout)
        return parse_observation(name, result.stdout, known.get(name))

    outcomes: list[Outcome] = await pool.each(hosts, one)
    return {o.host: (o.value if o.error is None else o.error) for o in outcomes}
