"""The discovery snapshot of the live cluster as it is now, for `orchestr dns render`: one
observe and one probe round trip per host of the world."""

from __future__ import annotations

from typing import Any

from orchestr.cluster.spec import spec_from_dict
from orchestr.discovery.snapshot import Snapshot


async def current_snapshot(cluster: Any) -> Snapshot:
    """Every stored service's endpoints; each replica probed once now (no sweep history)."""
    from orchestr.cluster.views import probe_health

    view = await cluster.observe()
    specs = {s.name: spec_from_dict(s.spec) for s in cluster.store.services()}
    containers = [c for c in view.containers if c.service in specs]
    verdicts = await probe_health(cluster, containers, {n: s.health for n, s in specs.items()})
    cluster.unhealthy = frozenset(n for n, v in verdicts.items() if v not in ("healthy", "running"))
    return cluster.snapshot(view)
