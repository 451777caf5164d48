"""A lost store rebuilt from the hosts. Every managed container carries its service's record in a
label: the spec (env names only: values are read back from the container's own environment, so
no secret is written into a label) and the service's candidates. When a command finds the
store empty (never written) while hosts run managed containers, the services, their
candidates and their slots are put back from those labels before anything is planned, so a
re-apply of one playbook never drops the other playbooks' services from HAProxy and DNS.
Pure: labels and `docker inspect` documents in, records out."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from orchestr.cluster.model import (
    LABEL_EPOCH,
    LABEL_MANAGED,
    LABEL_RECORD,
    LABEL_SERVICE,
    LABEL_SLOT,
    LABEL_SPEC,
    LIVE_STATES,
    MANAGED_BY,
)
from orchestr.cluster.spec import spec_from_dict, spec_hash, spec_to_dict
from orchestr.cluster.spec_types import ServiceSpec
from orchestr.transport.command import Command

# One JSON document per host (docker inspect of every managed container), nothing else.
INSPECT_MANAGED = Command.shell(
    f"ids=$(docker ps -aq --no-trunc --filter label={LABEL_MANAGED}={MANAGED_BY}) && "
    '{ [ -z "$ids" ] && echo "[]" || docker inspect $ids; }'
)


def record_label(spec: ServiceSpec, candidates: Sequence[str]) -> str:
    """The label value: the spec without env values or its file:line, and the candidates."""
    data = spec_to_dict(spec)
    data["env"] = [name for name, _ in spec.env]
    data.pop("location", None)
    return json.dumps({"spec": data, "hosts": list(candidates)}, sort_keys=True,
                      separators=(",", ":"))  # fmt: skip


@dataclass(frozen=True)
class RecoveredService:
    name: str
    spec: dict[str, Any]
    spec_hash: str
    hosts: tuple[str, ...]
    slots: dict[str, tuple[int, str]]  # slot -> (epoch, host) of its newest replica


@dataclass
class Recovery:
    services: list[RecoveredService] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # services that could not be rebuilt

    @property
    def containers(self) -> int:
        return sum(len(s.slots) for s in self.services)


@dataclass(frozen=True)
class _Seen:
    host: str
    slot: str
    epoch: int
    live: bool
    labels: Mapping[str, str]
    env: Mapping[str, str]


def recover(inspected: Mapping[str, Sequence[Mapping[str, Any]]]) -> Recovery:
    """Records from every host's `docker inspect` documents (host -> documents)."""
    by_service: dict[str, list[_Seen]] = {}
    for host, documents in sorted(inspected.items()):
        for document in documents:
            seen = _seen(host, document)
            if seen is not None:
                by_service.setdefault(seen.labels[LABEL_SERVICE], []).append(seen)
    recovery = Recovery()
    for name, replicas in sorted(by_service.items()):
        service = _service(name, replicas)
        if isinstance(service, str):
            recovery.problems.append(service)
        else:
            recovery.services.append(service)
    return recovery


def _seen(host: str, document: Mapping[str, Any]) -> _Seen | None:
    config = document.get("Config") or {}
    labels = config.get("Labels") or {}
    if labels.get(LABEL_MANAGED) != MANAGED_BY or not labels.get(LABEL_SERVICE):
        return None
    try:
        epoch = int(labels.get(LABEL_EPOCH, ""))
    except ValueError:
        return None  # damaged labels: not a replica orchestr can reason about
    env = {}
    for item in config.get("Env") or []:
        key, _, value = str(item).partition("=")
        env[key] = value
    state = (document.get("State") or {}).get("Status", "")
    return _Seen(host, str(labels.get(LABEL_SLOT, "")), epoch, state in LIVE_STATES,
                 labels, env)  # fmt: skip


def _service(name: str, replicas: list[_Seen]) -> RecoveredService | str:
    """The service's record from its newest replica's label, or why it cannot be rebuilt."""
    newest = max(replicas, key=lambda r: (LABEL_RECORD in r.labels, r.epoch, r.live))
    if LABEL_RECORD not in newest.labels:
        return (f"{name}: its containers carry no record (made by an older orchestr): "
                "apply its playbook again")  # fmt: skip
    try:
        record = json.loads(newest.labels[LABEL_RECORD])
        data = dict(record["spec"])
        data["env"] = [[key, newest.env.get(key, "")] for key in data["env"]]
        spec = spec_from_dict(data)
        hosts = tuple(str(h) for h in record["hosts"])
    except (ValueError, KeyError, TypeError) as error:
        return f"{name}: its record label cannot be read ({error}): apply its playbook again"
    wanted = spec_hash(spec)
    if wanted != newest.labels.get(LABEL_SPEC):
        return (f"{name}: the spec rebuilt from {newest.host}'s labels does not match the "
                "replica's spec hash: apply its playbook again")  # fmt: skip
    slots: dict[str, tuple[int, str]] = {}
    for replica in sorted(replicas, key=lambda r: (r.live, r.epoch)):
        slots[replica.slot] = (replica.epoch, replica.host)  # the newest live one wins
    return RecoveredService(name, spec_to_dict(spec), wanted, hosts, slots)
