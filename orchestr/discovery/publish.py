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
        pool = cluster.pool
        for host in self.lb_hosts:
            if host not in pool.settings:
                pool.settings[host] = delegate_settings(host, self.inventory)

        async def one(connection) -> list[str]:  # noqa: ANN001
            done = []
            # Dead endpoints go to maintenance first: the runtime API acts at once, a reload
            # (seconds of old workers draining) only when the rendered text changed.
            try:
                async with RuntimeAPI(connection) as api:
                    done += [str(c) for c in await sync_runtime(api, snapshot)]
            except Exception as error:  # noqa: BLE001 - not running yet: install starts it
                done.append(f"runtime API not reached ({error})")
            result = await install(connection, text)
            if getattr(result, "changed", False):
                done.append(f"haproxy.cfg {result.action}")
            return done

        for outcome in await pool.each(self.lb_hosts, one):
            if outcome.error is not None:
                report.problems.append(f"haproxy on {outcome.host}: {outcome.error}")
                continue
            for line in outcome.value:
                if line.startswith("runtime API not reached"):
                    continue
                report.actions.append(f"{outcome.host}: {line}")
                cluster.store.record_event("config reloaded" if "haproxy.cfg" in line
                                           else "endpoint state", line, host=outcome.host)  # fmt: skip

    def _dns(self, cluster, snapshot, report) -> None:  # noqa: ANN001
        from orchestr.discovery.zone import render_zone, write_zone

        previous = None
        if os.path.exists(self.zone_file):
            with open(self.zone_file, encoding="utf-8") as handle:
                previous = handle.read()
        text = render_zone(snapshot, zone=self.zone, ttl=self.ttl, previous=previous)
        if text != previous:
            write_zone(self.zone_file, text)
            report.actions.append(f"zone {self.zone_file} written")
            cluster.store.record_event("config reloaded", f"zone {self.zone_file}")
