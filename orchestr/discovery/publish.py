"""The publish step of every change and sweep: from the snapshot of the whole cluster, render
HAProxy's config and the DNS zone, install them where they changed, and hold dead endpoints in
maintenance through HAProxy's runtime API at once (before any reload)."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Any

from orchestr.cluster.steps import PublishChange
from orchestr.discovery.snapshot import Snapshot
from orchestr.transport.settings import inventory_settings


@dataclass
class PublishOutcome:
    changes: list[PublishChange] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # an LB host that could not be told


class Publisher:
    def __init__(self, inventory: Any, lb_hosts: list[str], zone_file: str | None,
                 zone: str = "orchestr.internal", *, ttl: int = 5):  # fmt: skip
        self.inventory = inventory
        self.lb_hosts = lb_hosts
        self.zone_file = zone_file
        self.zone = zone
        self.ttl = ttl
        self._installed: dict[str, str] = {}  # LB host -> config text it was last given
        self._marks: dict[str, frozenset] = {}  # LB host -> endpoint health it was last given

    async def publish(self, cluster: Any, snapshot: Snapshot) -> PublishOutcome:
        outcome = PublishOutcome()
        if self.lb_hosts and any(s.lb_port for s in snapshot.services):
            await self._haproxy(cluster, snapshot, outcome)
        if self.zone_file:
            self._dns(snapshot, outcome)
        return outcome

    async def _haproxy(self, cluster: Any, snapshot: Snapshot, outcome: PublishOutcome) -> None:
        from orchestr.discovery.haproxy import RuntimeAPI, install, render_config, sync_runtime

        text = render_config(snapshot)
        marks = frozenset(
            (e.server_name, e.healthy) for s in snapshot.services for e in s.endpoints
        )
        for host in self.lb_hosts:
            cluster.raw_pool.know(inventory_settings(host, self.inventory))

        async def one(connection) -> list[PublishChange]:  # noqa: ANN001
            done = []
            # Dead endpoints go to maintenance first: the runtime API acts at once, a reload
            # only when the rendered text changed. A watch loop remembers what each LB host
            # was last given, so an unchanged cluster costs it nothing here.
            if self._marks.get(connection.name) != marks:
                try:
                    async with RuntimeAPI(connection) as api:
                        changes = await sync_runtime(api, snapshot)
                    done += [PublishChange("endpoint", connection.name,
                                           f"{c.backend}/{c.server} -> {c.state} ({c.reason})")
                             for c in changes]  # fmt: skip
                except Exception:  # noqa: BLE001 - not running yet: the install below starts it
                    pass
            if self._installed.get(connection.name) != text:
                result = await install(connection, text)
                if result.action != "unchanged":
                    done.append(PublishChange("haproxy", connection.name, result.action))
            self._marks[connection.name] = marks
            self._installed[connection.name] = text
            return done

        for result in await cluster.pool.each(self.lb_hosts, one):
            if result.error is not None:
                outcome.problems.append(f"haproxy on {result.host}: {result.error}")
                self._installed.pop(result.host, None)
                self._marks.pop(result.host, None)
            else:
                outcome.changes += result.value

    def _dns(self, snapshot: Snapshot, outcome: PublishOutcome) -> None:
        from orchestr.discovery.zone import next_zone, write_zone

        previous = None
        if os.path.exists(self.zone_file):
            with open(self.zone_file, encoding="utf-8") as handle:
                previous = handle.read()
        # The serial moves only when the records do: an unchanged zone is not rewritten.
        text = next_zone(snapshot, previous, time.time(), zone=self.zone, ttl=self.ttl)
        if text != previous:
            write_zone(self.zone_file, text)
            outcome.changes.append(PublishChange("zone", self.zone_file, "written"))


def publisher_for(inventory: Any, *, lb_pattern: str | None = "lb", zone_file: str | None = None,
                  zone: str = "orchestr.internal") -> Publisher | None:  # fmt: skip
    """A publisher for the inventory's LB hosts (group `lb` unless told) and the zone file
    ($ORCHESTR_ZONE_FILE unless told); None when there is nowhere to publish."""
    zone_file = zone_file or os.environ.get("ORCHESTR_ZONE_FILE") or None
    lb_hosts = [h.name for h in inventory.select(lb_pattern)] if lb_pattern else []
    if not lb_hosts and not zone_file:
        return None
    return Publisher(inventory, lb_hosts, zone_file, zone)
