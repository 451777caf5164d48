"""The playbooks of playbooks/ on a real lab (3 nodes in zones a, b, c and an HAProxy host): the
demo stack (site.yml) applied and idempotent, then every runbook as an operator would run it,
with `orchestr apply`: deploy and rollback of one service, scale, drain of a node (proven gone
from the store, HAProxy and the DNS zone), rolling restart, host maintenance, the failover drill
(changes nothing), prune, and a drain refused because the other nodes cannot take the replicas.

The tests run in file order on one lab and one store: each starts from where the previous left
the cluster."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.integration.conftest import BIN, LAB_NAME, ORCHESTR

LAB = f"{LAB_NAME}-rb"
PLAYBOOKS = Path(__file__).resolve().parents[2] / "playbooks"
RECAP = re.compile(
    r"^(\S+)\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.MULTILINE
)


class Stack:
    def __init__(self, state: Path, inventory: Path, addresses: dict[str, str], workdir: Path):
        self.state = state
        self.inventory = inventory
        self.addresses = addresses
        self.store = workdir / "orchestr.db"
        self.zone_file = workdir / "zone.db"

    def env(self) -> dict[str, str]:
        return {**os.environ, "PATH": f"{BIN}:{os.environ.get('PATH', '')}",
                "ORCHESTR_STATE_DIR": str(self.state), "ORCHESTR_STORE": str(self.store),
                "ORCHESTR_INVENTORY": str(self.inventory),
                "ORCHESTR_ZONE_FILE": str(self.zone_file)}  # fmt: skip

    def run(self, *args: str, check: bool = True, timeout: float = 300):
        done = subprocess.run([ORCHESTR, *args], capture_output=True, text=True,
                              timeout=timeout, env=self.env())  # fmt: skip
        if check and done.returncode != 0:
            raise AssertionError(f"orchestr {' '.join(args)} -> {done.returncode}:\n"
                                 f"{done.stdout}{done.stderr}")  # fmt: skip
        return done

    def play(self, playbook: str, *extra: str, check: bool = True):
        """`orchestr apply playbooks/PLAYBOOK -i INV EXTRA...`, timed."""
        started = time.monotonic()
        done = self.run("apply", str(PLAYBOOKS / playbook), "-i", str(self.inventory), *extra,
                        check=check)  # fmt: skip
        print(f"{playbook} {' '.join(extra)}: exit {done.returncode} "
              f"in {time.monotonic() - started:.1f}s")  # fmt: skip
        return done

    def status(self) -> dict:
        return json.loads(self.run("status", "--json").stdout)

    def services(self) -> dict[str, dict]:
        return {s["name"]: s for s in self.status()["services"]}

    def healthy(self) -> dict[str, tuple[int, int, int]]:
        """healthy/running/desired of every service."""
        return {n: (s["healthy"], s["running"], s["desired"]) for n, s in self.services().items()}

    def drained(self) -> list[str]:
        return [h["name"] for h in self.status()["hosts"] if h["drained"]]

    def replicas(self, service: str) -> list[dict]:
        rows = json.loads(self.run("ps", service, "--json").stdout)
        return [r for r in rows if r["current"] and r["state"] == "running"]

    def history(self, service: str) -> list[dict]:
        return json.loads(self.run("history", service, "--json").stdout)

    def ssh(self, host: str, command: str, check: bool = True):
        return self.run("lab", "ssh", host, command, "--name", LAB, check=check)

    def through_lb(self, port: int, count: int = 8) -> list[str]:
        """Bodies of `count` requests through lb1 (curl, as a client would)."""
        url = f"http://{self.addresses['lb1']}:{port}/"
        bodies = []
        for _ in range(count):
            done = subprocess.run(["curl", "-fsS", "--max-time", "3", url],
                                  capture_output=True, text=True)  # fmt: skip
            assert done.returncode == 0, f"curl {url}: {done.stderr}"
            bodies.append(done.stdout.strip())
        return bodies


def recap(output: str) -> dict[str, dict[str, int]]:
    return {host: {"ok": int(ok), "changed": int(changed), "unreachable": int(unreachable),
                   "failed": int(failed)}
            for host, ok, changed, unreachable, failed in RECAP.findall(output)}  # fmt: skip


def changed(output: str) -> int:
    counts = recap(output)
    assert counts, output
    return sum(c["changed"] for c in counts.values())


def snapshot(stack: Stack) -> dict:
    """What a change would show: replicas (names, hosts, epochs), drained hosts, deploys."""
    status = stack.status()
    return {
        "services": sorted((s["name"], s["desired"], s["spec"], tuple(s["hosts"]))
                           for s in status["services"]),
        "drained": sorted(h["name"] for h in status["hosts"] if h["drained"]),
        "replicas": {name: sorted((r["name"], r["host"]) for r in stack.replicas(name))
                     for name in ("web", "api")},
        "deploys": {name: len(stack.history(name)) for name in ("web", "api")},
    }  # fmt: skip


@pytest.fixture(scope="module")
def stack(lab, tmp_path_factory) -> Stack:
    """Three nodes (zones a, b, c) and lb1, with the demo images v1 and v2 loaded."""
    del lab  # the session lab sets ORCHESTR_STATE_DIR; this module brings up its own hosts
    import asyncio

    from orchestr.lab.images import ensure_demo_image

    state = Path(os.environ["ORCHESTR_STATE_DIR"])
    run = lambda *a: subprocess.run([ORCHESTR, *a], capture_output=True, text=True, timeout=900)  # noqa: E731
    run("lab", "down", "--name", LAB)
    up = run("lab", "up", "--hosts", "3", "--lb", "--name", LAB)
    assert up.returncode == 0, up.stderr
    inventory = Path(up.stdout.strip().splitlines()[-1])
    status = run("lab", "status", "--json", "--name", LAB)
    addresses = {r["name"]: r["address"] for r in map(json.loads, status.stdout.splitlines())}
    asyncio.run(ensure_demo_image("1"))
    asyncio.run(ensure_demo_image("2", "orchestr-demo:2"))
    for image in ("orchestr-demo:1", "orchestr-demo:2"):
        loaded = run("lab", "load-image", image, "--name", LAB)
        assert loaded.returncode == 0, loaded.stderr
    yield Stack(state, inventory, addresses, tmp_path_factory.mktemp("runbooks"))
    run("lab", "down", "--name", LAB)


def test_site_applies_then_changes_nothing(stack: Stack):
    first = stack.play("site.yml")
    assert changed(first.stdout) >= 1, first.stdout
    assert stack.healthy() == {"web": (4, 4, 4), "api": (2, 2, 2)}
    # Spread over the three zones, at most 2 web per node, the 2 api on 2 nodes.
    per_host = Counter(r["host"] for r in stack.replicas("web"))
    assert len(per_host) == 3 and max(per_host.values()) == 2
    assert len({r["host"] for r in stack.replicas("api")}) == 2

    again = stack.play("site.yml")
    assert changed(again.stdout) == 0, again.stdout
    assert all(c["failed"] == 0 for c in recap(again.stdout).values())


def test_the_load_balancer_answers(stack: Stack):
    web = stack.through_lb(8080)
    assert all("container=web-" in b and "version=1" in b for b in web), web
    assert len({b.split("container=")[1].split()[0] for b in web}) == 4  # round robin over 4
    api = stack.through_lb(8081, count=4)
    assert all("container=api-" in b for b in api), api


def test_deploy_rolls_one_service_to_v2(stack: Stack):
    refused = stack.play("deploy.yml", "-e", "service=web", "-e", "version=9", check=False)
    assert refused.returncode == 2
    assert "orchestr-demo:9 is not on this machine" in refused.stdout
    missing = stack.play("deploy.yml", "-e", "version=2", check=False)
    assert missing.returncode == 2 and "refusing to deploy: give -e service=NAME" in missing.stdout
    assert len(stack.history("web")) == 1

    deployed = stack.play("deploy.yml", "-e", "service=web", "-e", "version=2")
    assert changed(deployed.stdout) == 1, deployed.stdout
    assert "web: 4/4/4 healthy/running/desired on orchestr-demo:2" in deployed.stdout
    assert all("version=2" in b for b in stack.through_lb(8080))
    assert stack.services()["api"]["image"] == "orchestr-demo:1"  # the other one untouched
    assert [d["status"] for d in stack.history("web")] == ["succeeded", "succeeded"]

    again = stack.play("deploy.yml", "-e", "service=web", "-e", "version=2")
    assert changed(again.stdout) == 0, again.stdout


def test_rollback_returns_to_v1(stack: Stack):
    rolled = stack.play("rollback.yml", "-e", "service=web")
    assert changed(rolled.stdout) == 1, rolled.stdout
    assert "web: rolled back to deploy #1 (orchestr-demo:1, 4 replicas)" in rolled.stdout
    assert stack.services()["web"]["image"] == "orchestr-demo:1"
    assert all("version=1" in b for b in stack.through_lb(8080))
    # With a deploy number a second run finds that spec running.
    again = stack.play("rollback.yml", "-e", "service=web", "-e", "to=1")
    assert changed(again.stdout) == 0, again.stdout
    assert "already runs the spec of deploy #1" in again.stdout
    unknown = stack.play("rollback.yml", "-e", "service=web", "-e", "to=42", check=False)
    assert unknown.returncode == 2 and "it has no deploy #42" in unknown.stdout


def test_scale(stack: Stack):
    up = stack.play("scale.yml", "-e", "service=api", "-e", "replicas=3")
    assert changed(up.stdout) == 1 and "api: 3/3/3 healthy/running/desired" in up.stdout
    again = stack.play("scale.yml", "-e", "service=api", "-e", "replicas=3")
    assert changed(again.stdout) == 0, again.stdout
    # max_per_host 1 on 3 nodes: a fourth api fits nowhere, refused with the reason.
    refused = stack.play("scale.yml", "-e", "service=api", "-e", "replicas=4", check=False)
    assert refused.returncode == 2 and "max_per_host 1" in refused.stdout, refused.stdout
    assert stack.healthy()["api"] == (3, 3, 3)
    down = stack.play("scale.yml", "-e", "service=api", "-e", "replicas=2")
    assert changed(down.stdout) == 1 and stack.healthy()["api"] == (2, 2, 2)


def test_drain_host_then_undrain(stack: Stack):
    address = stack.addresses["node3"]
    checked = stack.play("drain-host.yml", "-e", "host=node3", "--check")
    assert changed(checked.stdout) == 0 and "(host node3 drained)" in checked.stdout
    assert "node3" not in stack.drained()

    drained = stack.play("drain-host.yml", "-e", "host=node3")
    assert changed(drained.stdout) == 1, drained.stdout
    assert f"node3 ({address}) drained" in drained.stdout
    status = stack.status()
    assert all("node3" not in s["hosts"] for s in status["services"])
    assert next(h for h in status["hosts"] if h["name"] == "node3")["drained"]
    # Checked here again, independently of the playbook's own checks.
    haproxy = stack.ssh("lb1", "cat /etc/haproxy/haproxy.cfg").stdout
    assert f" {address}:" not in haproxy and "server web-" in haproxy
    zone = stack.zone_file.read_text()
    assert "node3.orchestr.internal." not in " ".join(
        line for line in zone.splitlines() if " SRV " in line
    )
    assert stack.healthy() == {"web": (4, 4, 4), "api": (2, 2, 2)}

    again = stack.play("drain-host.yml", "-e", "host=node3")
    assert changed(again.stdout) == 0, again.stdout
    stack.run("undrain", "node3")
    assert "node3" not in stack.drained()


def test_rolling_restart(stack: Stack):
    before = {r["name"]: r["started_at"] for name in ("web", "api") for r in stack.replicas(name)}
    restarted = stack.play("rolling-restart.yml")
    counts = recap(restarted.stdout)
    busy = {r["host"] for name in ("web", "api") for r in stack.replicas(name)}
    assert {h for h, c in counts.items() if c["changed"]} == busy, restarted.stdout
    after = {r["name"]: r["started_at"] for name in ("web", "api") for r in stack.replicas(name)}
    assert after.keys() == before.keys()  # the same containers...
    assert all(after[n] != before[n] for n in before)  # ...each started again
    assert stack.healthy() == {"web": (4, 4, 4), "api": (2, 2, 2)}


def test_host_maintenance(stack: Stack):
    node = "node2"
    assert any(node in s["hosts"] for s in stack.status()["services"])  # it has replicas
    done = stack.play("host-maintenance.yml", "-e", f"host={node}",
                      "-e", "update_command='touch /tmp/maintained'")  # fmt: skip
    assert changed(done.stdout) >= 2, done.stdout  # replicas moved, the command ran
    assert stack.ssh(node, "test -e /tmp/maintained", check=False).returncode == 0
    status = stack.status()
    assert not next(h for h in status["hosts"] if h["name"] == node)["drained"]
    assert all(node not in s["hosts"] for s in status["services"])  # not moved back
    assert stack.healthy() == {"web": (4, 4, 4), "api": (2, 2, 2)}
    assert all("version=1" in b for b in stack.through_lb(8080, count=4))
    # Nothing to move any more and the default no-op command: nothing changes.
    again = stack.play("host-maintenance.yml", "-e", f"host={node}")
    assert changed(again.stdout) == 0, again.stdout


def test_failover_drill_reports_and_changes_nothing(stack: Stack):
    before = snapshot(stack)
    hosts = stack.status()["hosts"]
    busiest = sorted(hosts, key=lambda h: (-h["containers"], h["name"]))[0]
    drill = stack.play("failover-drill.yml")
    assert changed(drill.stdout) == 0, drill.stdout
    assert f'"host": "{busiest["name"]}"' in drill.stdout
    assert '"can_be_lost": true' in drill.stdout
    moves = re.findall(r"migrate +\w+ slot \d+: .* on (\w+) -> .* on (\w+) ", drill.stdout)
    assert len(moves) == busiest["containers"], drill.stdout
    assert all(src == busiest["name"] and dst != src for src, dst in moves)
    assert snapshot(stack) == before


def test_drain_refused_when_the_others_cannot_take_the_replicas(stack: Stack):
    # 5 web with max_per_host 2 on 3 nodes: without any one of them only 4 fit.
    stack.play("scale.yml", "-e", "service=web", "-e", "replicas=5")
    before = snapshot(stack)
    refused = stack.play("drain-host.yml", "-e", "host=node1", check=False)
    assert refused.returncode == 2, refused.stdout
    assert "refusing to drain node1" in refused.stdout and "max_per_host 2" in refused.stdout
    assert "nothing was changed" in refused.stdout
    assert snapshot(stack) == before
    drill = stack.play("failover-drill.yml", "-e", "host=node1", check=False)
    assert drill.returncode == 2 and "node1 cannot be lost at full strength" in drill.stdout
    stack.play("scale.yml", "-e", "service=web", "-e", "replicas=4")


def test_prune_twice(stack: Stack):
    # A stopped copy of an older epoch, as an interrupted run could leave: no current replica.
    stack.ssh("node2", "docker create --name web.1.e0 --label orchestr.managed-by=orchestr "
              "--label orchestr.service=web --label orchestr.slot=1 --label orchestr.epoch=0 "
              "orchestr-demo:1")  # fmt: skip
    kept = stack.play("prune.yml")  # keep 2: both demo images stay
    assert "node2: removed 1 container(s) (web.1.e0) and 0 image(s)" in kept.stdout, kept.stdout
    assert changed(kept.stdout) == 1
    # keep 0: v2 is used by no container and named by no spec any more (web was rolled back).
    pruned = stack.play("prune.yml", "-e", "keep=0")
    for node in ("node1", "node2", "node3"):
        assert f"{node}: removed 0 container(s) and 1 image(s) (orchestr-demo:2)" in pruned.stdout
    tags = stack.ssh("node1", "docker images --format '{{.Tag}}' orchestr-demo").stdout.split()
    assert tags == ["1"], tags  # (the table's "2 hours ago" must not pass for tag 2)
    again = stack.play("prune.yml", "-e", "keep=0")
    assert changed(again.stdout) == 0, again.stdout
    assert stack.healthy() == {"web": (4, 4, 4), "api": (2, 2, 2)}
