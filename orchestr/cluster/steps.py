"""What a change did, as values: one Step per replica action carried out (or that failed), one
PublishChange per thing discovery changed. The console, events and --json make text of them at
the edge; nothing reads text back."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

# Step kinds that move a replica to another host (counted as relocations).
RELOCATIONS = frozenset({"lost", "migrate"})
# The event recorded for each kind of step.
EVENT_KINDS = {"fence": "fenced", "lost": "relocated", "migrate": "relocated",
               "restart": "replica restarted", "stop": "stopped", "place": "placed",
               "update": "updated", "restored": "restored", "failed": "action failed"}  # fmt: skip


@dataclass(frozen=True)
class Step:
    """One replica action: `kind` is a reconcile bucket (place, lost, migrate, update, restart,
    stop, fence), `restored` (an old replica put back after a failed update) or `failed`."""

    kind: str
    service: str
    slot: str
    reason: str
    host: str = ""  # where it happened: the new replica's host, else the old one's
    epoch: int = 0  # the new replica's epoch (0 when none was made)
    container: str = ""  # the new replica's name, else the one acted on
    old: str = ""  # the replica replaced, removed or restarted
    old_host: str = ""
    ports: tuple[tuple[int, int], ...] = ()  # (container port, host port) of a new replica

    @property
    def relocation(self) -> bool:
        return self.kind in RELOCATIONS

    def text(self) -> str:
        old = f"{self.old} on {self.old_host}" if self.old else ""
        if self.kind == "failed":
            return f"failed {self.service} slot {self.slot} on {self.host}: {self.reason}"
        new = ""
        if self.container and self.container != self.old:
            new = f"{self.container} on {self.host}"
            if self.ports:
                new += " port " + ",".join(f"{h}->{t}" for t, h in self.ports)
        what = " -> ".join(p for p in (old, new) if p) or f"slot {self.slot}"
        return f"{self.kind} {what} ({self.reason})"

    def as_data(self) -> dict[str, Any]:
        data = asdict(self)
        data["ports"] = [f"{h}->{t}" for t, h in self.ports]
        data["text"] = self.text()
        return data


@dataclass(frozen=True)
class PublishChange:
    """One change discovery made: an endpoint's state through HAProxy's runtime API, a config
    installed and reloaded, or the zone file rewritten."""

    kind: str  # "endpoint" | "haproxy" | "zone"
    target: str  # the LB host, or the zone file
    detail: str  # backend/server -> state (why); installed|reloaded; written

    def text(self) -> str:
        if self.kind == "endpoint":
            return f"{self.target}: {self.detail}"
        if self.kind == "haproxy":
            return f"{self.target}: haproxy.cfg {self.detail}"
        return f"zone {self.target} {self.detail}"

    def as_data(self) -> dict[str, Any]:
        return {**asdict(self), "text": self.text()}
