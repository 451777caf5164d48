"""What `orchestr status`, `ps` and `history` show: gathered with one observe round trip and one
probe round trip per host, shaped as plain data (for --json), rendered as aligned text."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from orchestr.cluster.model import Container, slot_key
from orchestr.cluster.reconcile import desired_slots
from orchestr.cluster.spec import spec_from_dict
from orchestr.cluster.spec_types import HealthSpec


async def probe_health(cluster, containers: Sequence[Container],
                       checks: dict[str, HealthSpec | None]) -> dict[str, str]:  # noqa: ANN001  # fmt: skip
    """container name -> "healthy" | "unhealthy: why" | "running" (no check) | docker's state,
    from one probe of each running container (no rise/fall history: a snapshot)."""
    from orchestr.health.checks import probe_for
    from orchestr.health.probe import run_probes

    verdicts: dict[str, str] = {}
    probes_by_host: dict[str, list] = {}
    for c in containers:
        check = checks.get(c.service)
        if not c.running:
            verdicts[c.name] = c.state
        elif check is None:
            verdicts[c.name] = c.health or "running"
        else:
            probe = probe_for(c, check)
            if probe is None:
                verdicts[c.name] = "running (cannot be checked)"
            else:
                probes_by_host.setdefault(c.host, []).append(probe)

    async def one(connection) -> dict:  # noqa: ANN001
        return await run_probes(connection, probes_by_host[connection.name])

    for outcome in await cluster.pool.each(list(probes_by_host), one):
        for probe in probes_by_host[outcome.host]:
            if outcome.error is not None:
                verdicts[probe.key] = f"unknown: {outcome.error}"
                continue
            answer = outcome.value.get(probe.key)
            ok = answer is not None and answer.ok
            verdicts[probe.key] = (
                "healthy" if ok else f"unhealthy: {answer.detail if answer else '?'}"
            )
    return verdicts


async def cluster_status(cluster, services) -> dict[str, Any]:  # noqa: ANN001
    view = await cluster.observe()
    specs = {s.name: spec_from_dict(s.spec) for s in services}
    containers = [c for c in view.containers if c.service in specs]
    health = await probe_health(cluster, containers, {n: s.health for n, s in specs.items()})
    drained = cluster.store.unschedulable()
    out_services = []
    current_all = cluster.current(containers, specs)
    for stored in services:
        spec = specs[stored.name]
        mine = [c for c in containers if c.service == stored.name]
        current = [c for c in current_all if c.service == stored.name]
        out_services.append({
            "name": stored.name, "image": spec.image, "mode": spec.mode,
            "desired": len(desired_slots(spec, view.for_service(stored.hosts))),
            "running": sum(1 for c in current if c.running),
            "healthy": sum(1 for c in current if health.get(c.name) in ("healthy", "running")),
            "stale": len(mine) - len(current),
            "spec": stored.spec_hash,
            "hosts": sorted({c.host for c in current}),
            "unreachable_hosts": sorted(h for h in stored.hosts if h in cluster.unreachable()),
        })  # fmt: skip
    out_hosts = []
    for host in view.hosts:
        usage = [c for c in view.containers if c.host == host.name and c.running]
        out_hosts.append({
            "name": host.name, "up": host.up, "drained": host.name in drained,
            "reason": drained.get(host.name, ""), "containers": len(usage),
            "reserved_cpus": round(sum(c.reserved.cpus for c in usage), 3),
            "reserved_memory_mb": sum(c.reserved.memory_mb for c in usage),
            "cpus": host.capacity.cpus, "memory_mb": host.capacity.memory_mb,
        })  # fmt: skip
    return {"services": out_services, "hosts": out_hosts}


async def service_replicas(cluster, stored) -> list[dict[str, Any]]:  # noqa: ANN001
    view = await cluster.observe()
    spec = spec_from_dict(stored.spec)
    record = cluster.store.slots(stored.name)
    mine = sorted((c for c in view.containers if c.service == stored.name),
                  key=lambda c: (slot_key(c.slot), c.epoch))  # fmt: skip
    health = await probe_health(cluster, mine, {stored.name: spec.health})
    rows = []
    current_names = {c.name for c in cluster.current(mine, [stored.name])}
    for c in mine:
        current = c.name in current_names
        rows.append({
            "slot": c.slot, "epoch": c.epoch, "name": c.name, "host": c.host, "state": c.state,
            "health": health.get(c.name, ""), "current": current,
            "up_to_date": c.spec_hash == stored.spec_hash,
            "ports": [f"{h}->{t}" for t, h in c.ports], "started_at": c.started_at,
        })  # fmt: skip
    for slot, entry in sorted(record.items(), key=lambda kv: slot_key(kv[0])):
        if entry.host and not any(r["slot"] == slot and r["current"] for r in rows):
            rows.append({"slot": slot, "epoch": entry.epoch, "name": "", "host": entry.host,
                         "state": "unseen" if entry.host in cluster.unreachable() else "missing",
                         "health": "", "current": True, "up_to_date": False, "ports": [],
                         "started_at": ""})  # fmt: skip
    return rows


# -- rendering ------------------------------------------------------------------------------


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[str(h) for h in headers]] + [[str(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    return "\n".join("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip()
                     for row in cells)  # fmt: skip


def render_status(status: dict[str, Any]) -> str:
    services = [
        (s["name"], f"{s['healthy']}/{s['running']}/{s['desired']}", s["image"],
         ",".join(s["hosts"]) or "-", s["stale"] or "",
         ",".join(s["unreachable_hosts"]))
        for s in status["services"]
    ]  # fmt: skip
    hosts = [
        (h["name"], "up" if h["up"] else "DOWN", "drained" if h["drained"] else "",
         h["containers"], f"{h['reserved_cpus']:g}/{h['cpus']:g}",
         f"{h['reserved_memory_mb']}/{h['memory_mb']}")
        for h in status["hosts"]
    ]  # fmt: skip
    return (
        table(("SERVICE", "HEALTHY/RUNNING/DESIRED", "IMAGE", "HOSTS", "STALE", "UNREACHABLE"),
              services)
        + "\n\n"
        + table(("HOST", "STATE", "SCHEDULING", "CONTAINERS", "CPUS", "MEMORY MB"), hosts)
    )  # fmt: skip


def render_ps(rows: list[dict[str, Any]]) -> str:
    return table(
        ("SLOT", "EPOCH", "NAME", "HOST", "STATE", "HEALTH", "PORTS", "NOTE"),
        [(r["slot"], r["epoch"], r["name"] or "-", r["host"], r["state"], r["health"] or "-",
          ",".join(r["ports"]) or "-",
          "" if r["current"] and r["up_to_date"] else ("stale" if not r["current"] else "old spec"))
         for r in rows],
    )  # fmt: skip


def render_history(deploys, current: int | None) -> str:  # noqa: ANN001
    rows = []
    for d in deploys:
        took = f"{d.finished_at - d.started_at:.1f}s" if d.finished_at else "running"
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(d.started_at))
        rows.append((f"#{d.number}" + (" *" if d.id == current else ""), d.status,
                     d.spec.get("image", ""), d.spec.get("replicas", ""), when, took, d.user,
                     d.detail[:80]))  # fmt: skip
    return table(("DEPLOY", "STATUS", "IMAGE", "REPLICAS", "STARTED", "TOOK", "USER", "DETAIL"),
                 rows)  # fmt: skip
