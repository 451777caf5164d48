"""The discovery step after a sweep or an apply: render HAProxy's config and the DNS zone from
the snapshot, install them where they changed, and hold dead endpoints in maintenance through
HAProxy's runtime API at once (before any reload)."""

from __future__ import annotations

import os
from typing import Any


class Publisher:
    def __init__(self, inventory: Any, lb_hosts: list[str], zone_file: str | None,
                 zone: str = "orchestr.internal", *, ttl: int = 5,
                 report_only: bool = False):  # fmt: skip
        self.inventory = inventory
        self.lb_hosts = lb_hosts
        self.zone_file = zone_file
        self.zone = zone
        self.ttl = ttl
        self.report_only = report_only
        self._installed: dict[str, str] = {}  # LB host -> config text it was last given
        self._marks: dict[str, frozenset] = {}  # LB host -> endpoint health it was last given

    async def __call__(self, cluster, report, unhealthy: frozenset[str]) -> None:  # noqa: ANN001
        from orchestr.discovery.live import snapshot_from_view

        view = cluster.view()
        if report.actions and not self.report_only:
            view = await cluster.observe()  # replicas moved: their endpoints changed
        snapshot = snapshot_from_view(cluster, view, unhealthy)
        report.snapshot = snapshot
        if self.report_only:
            return
        if self.lb_hosts and any(s.lb_port for s in snapshot.services):
            await self._haproxy(cluster, snapshot, report)
        if self.zone_file:
            self._dns(cluster, snapshot, report)

    async def _haproxy(self, cluster, snapshot, report) -> None:  # noqa: ANN001
        from orchestr.discovery.haproxy import RuntimeAPI, install, render_config, sync_runtime
        from orchestr.playbook.runner import delegate_settings

        text = render_config(snapshot)
        marks = frozenset(
            (e.server_name, e.healthy) for s in snapshot.services for e in s.endpoints
        )
        pool = cluster.pool
        for host in self.lb_hosts:
            if host not in pool.settings:
                pool.settings[host] = delegate_settings(host, self.inventory)

        async def one(connection) -> list[str]:  # noqa: ANN001
            done = []
            # Dead endpoints go to maintenance first: the runtime API acts at once, a reload
            # only when the rendered text changed. A watch loop remembers what each LB host
            # was last given, so an unchanged cluster costs it nothing here.
            if self._marks.get(connection.name) != marks:
                try:
                    async with RuntimeAPI(connection) as api:
                        changes = await sync_runtime(api, snapshot)
                    done += [f"{c.backend}/{c.server} -> {c.state} ({c.reason})" for c in changes]
                except Exception:  # noqa: BLE001 - not running yet: the install below starts it
                    pass
            if self._installed.get(connection.name) != text:
                result = await install(connection, text)
                if result.action != "unchanged":
                    done.append(f"haproxy.cfg {result.action}")
            self._marks[connection.name] = marks
            self._installed[connection.name] = text
            return done

        for outcome in await pool.each(self.lb_hosts, one):
            if outcome.error is not None:
                report.problems.append(f"haproxy on {outcome.host}: {outcome.error}")
                self._installed.pop(outcome.host, None)
                self._marks.pop(outcome.host, None)
                continue
            for line in outcome.value:
                report.actions.append(f"{outcome.host}: {line}")
                kind = "config reloaded" if line.startswith("haproxy.cfg") else "endpoint state"
                cluster.store.record_event(kind, line, host=outcome.host)

    def _dns(self, cluster, snapshot, report) -> None:  # noqa: ANN001
        import time

        from orchestr.discovery.zone import next_zone, write_zone

        previous = None
        if os.path.exists(self.zone_file):
            with open(self.zone_file, encoding="utf-8") as handle:
                previous = handle.read()
        # The serial moves only when the records do: an unchanged zone is not rewritten.
        text = next_zone(snapshot, previous, time.time(), zone=self.zone, ttl=self.ttl)
        if text != previous:
            write_zone(self.zone_file, text)
            report.actions.append(f"zone {self.zone_file} written")
            cluster.store.record_event("config reloaded", f"zone {self.zone_file}")


def publisher_for(inventory: Any, *, lb_pattern: str | None = "lb", zone_file: str | None = None,
                  zone: str = "orchestr.internal", report_only: bool = False) -> Publisher | None:  # fmt: skip
    """A publisher for the inventory's LB hosts (group `lb` unless told) and the zone file
    ($ORCHESTR_ZONE_FILE unless told); None when there is nowhere to publish."""
    zone_file = zone_file or os.environ.get("ORCHESTR_ZONE_FILE") or None
    lb_hosts = [h.name for h in inventory.select(lb_pattern)] if lb_pattern else []
    if not lb_hosts and not zone_file:
        return None
    return Publisher(inventory, lb_hosts, zone_file, zone, report_only=report_only)
