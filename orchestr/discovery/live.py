"""The discovery snapshot of the live cluster: one observe and one probe round trip per host."""

from __future__ import annotations

from orchestr.cluster.spec import spec_from_dict
from orchestr.discovery.snapshot import Snapshot, build_snapshot


def host_addresses(cluster) -> dict[str, str]:  # noqa: ANN001
    """Inventory name -> address clients use: ansible_host when set, else the name."""
    return {c.name: str(c.attributes.get("ansible_host") or c.name) for c in cluster.candidates}


async def current_snapshot(cluster, unhealthy: frozenset[str] | None = None) -> Snapshot:  # noqa: ANN001
    """Every stored service's endpoints as they are now. `unhealthy` (container names) may come
    from the sweep's counters; without it each replica is probed once now."""
    from orchestr.cluster.views import probe_health

    view = await cluster.observe()
    if unhealthy is None:
        specs = [spec_from_dict(s.spec) for s in cluster.store.services()]
        containers = [c for c in view.containers if any(c.service == s.name for s in specs)]
        verdicts = await probe_health(cluster, containers, {s.name: s.health for s in specs})
        unhealthy = frozenset(n for n, v in verdicts.items() if v not in ("healthy", "running"))
    return snapshot_from_view(cluster, view, unhealthy)


def snapshot_from_view(cluster, view, unhealthy: frozenset[str]) -> Snapshot:  # noqa: ANN001
    services = cluster.store.services()
    specs = [spec_from_dict(s.spec) for s in services]
    containers = [c for c in view.containers if any(c.service == s.name for s in specs)]
    epochs = {s.name: cluster.current_epochs(s.name) for s in services}
    return build_snapshot(specs, containers, epochs, host_addresses(cluster), unhealthy)
