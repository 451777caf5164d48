"""service-deploy and service-steady: a service of 2 replicas per lab node (40 over 20 hosts) of
the demo image, each publishing port 80 on a port of 30000-30099, image already on every node.

  service-deploy  every run starts from nothing: its untimed `before` hook removes every
                  container labelled orchestr.managed-by=orchestr on every node (one `orchestr
                  exec`) and orchestr's store (ORCHESTR_STORE, /tmp/bench-svc/orchestr.db).
                  Issue target: orchestr within 1.3x of the bare floor, at least 3x faster than
                  ansible-playbook, no slower than pyinfra.
  service-steady  the second apply on an unchanged cluster: set-up deploys the service once
                  (untimed); every run then finds the 40 replicas running and changes nothing.
                  orchestr apply against a bare script making the same observation (one round
                  trip per host); the peers' ad-hoc `docker ps` of the replicas for scale only
                  (neither has a service to keep: their runs only look).

Every run is checked twice (untimed): the contender's own output (orchestr's JSON events: the
task changed, 40 `place` actions, the recap; ansible's recap and one changed item per replica;
pyinfra's results table; the bare script's line per host), then the nodes themselves, over a
separate asyncssh connection per node: exactly 2 containers of the service per node, all
running, from the image, each publishing a distinct port of the range to port 80 (and, for the
steady runs, the very containers set-up started: none replaced).

Contenders of service-deploy (forks = the host count, so all hosts go at once):
  orchestr          orchestr apply service_deploy.yml -i INVENTORY -f N -e replicas=R --json
  ansible-playbook  ansible-playbook service_deploy_ansible.yml -i INVENTORY -f N (per host,
                    a loop of `command: docker run --detach ...`; pipelining on, a fresh
                    ControlPath dir per run)
  pyinfra           pyinfra -y --parallel N INVENTORY.py bench/pyinfra/service_deploy.py
  bare              bench/bare/service_deploy.py: one asyncssh connection per host, the host's
                    docker runs as one command, all hosts at once (the floor)
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from bench import lab
from bench.bare import ssh_run
from bench.environment import BENCH_DIR, PEERS_BIN
from bench.harness import Check, Contender
from bench.scenarios import Context, register
from bench.scenarios.common import (
    ANSIBLE_OK,
    PYINFRA_OK,
    FreshControlPath,
    LabScenario,
    RunCounter,
    check_pattern,
    run_checked,
)
from bench.scenarios.playbook import pyinfra_results, recap

PLAYBOOK = BENCH_DIR / "playbooks" / "service_deploy.yml"
ANSIBLE_PLAYBOOK = BENCH_DIR / "playbooks" / "service_deploy_ansible.yml"
DEPLOY = BENCH_DIR / "pyinfra" / "service_deploy.py"
BARE = BENCH_DIR / "bare" / "service_deploy.py"

SERVICE = "web"
IMAGE = "orchestr-demo:1"
PER_HOST = 2
PORTS = (30000, 30099)  # the playbook's range; the peers publish its first PER_HOST ports
STORE_DIR = Path("/tmp/bench-svc")
STORE = STORE_DIR / "orchestr.db"
MANAGED = "label=orchestr.managed-by=orchestr"

# Remove every managed container, then fail unless none is left (untimed, one orchestr exec).
WIPE = (
    f"ids=$(docker ps -aq --filter {MANAGED}); "
    '[ -z "$ids" ] || docker rm -f $ids >/dev/null; '
    f'[ -z "$(docker ps -aq --filter {MANAGED})" ]'
)
# The nodes' own account of the managed containers, one line each (the checks read it).
LOOK_FORMAT = (
    '{{.ID}}\t{{.Names}}\t{{.State}}\t{{.Image}}\t{{.Label "orchestr.service"}}\t{{.Ports}}'
)
LOOK = f"docker ps -a --no-trunc --filter {MANAGED} --format '{LOOK_FORMAT}'"
IMAGE_PRESENT = f"docker image inspect {IMAGE} >/dev/null"
# What the steady scenario's peers run: their ad-hoc look at the replicas.
PEER_LOOK = f"docker ps -a --filter label=orchestr.service={SERVICE} --format '{{{{.Names}}}} {{{{.State}}}}'"
PEER_LOOK_LINE = re.compile(rf"(?:^|\s){re.escape(SERVICE)}\.\d+\.e\d+ running\s*$", re.MULTILINE)
PUBLISHED = re.compile(r":(\d+)->80/tcp")

# ---------------------------------------------------------------- the nodes' state


def replicas_problem(
    looks: Mapping[str, str], per_host: int, service: str = SERVICE, image: str = IMAGE,
    ports: tuple[int, int] = PORTS,
) -> str | None:  # fmt: skip
    """Why the nodes' LOOK output (host -> text) is not `per_host` running replicas of `service`
    from `image` on every host, each publishing a distinct port of `ports` to port 80."""
    names: set[str] = set()
    for host, text in sorted(looks.items()):
        rows = [line.split("\t") for line in text.splitlines() if line.strip()]
        if len(rows) != per_host:
            return f"{host}: {len(rows)} managed containers, expected {per_host}"
        published: set[int] = set()
        for row in rows:
            if len(row) != 6:
                return f"{host}: unreadable line {chr(9).join(row)!r}"
            _, name, state, used_image, labelled, text_ports = row
            if state != "running" or used_image != image or labelled != service:
                return f"{host}: {name} is {state}, image {used_image}, service {labelled!r}"
            found = {int(p) for p in PUBLISHED.findall(text_ports)}
            if len(found) != 1 or not ports[0] <= min(found) <= ports[1]:
                return f"{host}: {name} publishes {text_ports or 'nothing'}"
            published |= found
            names.add(name)
        if len(published) != per_host:
            return f"{host}: {per_host} replicas share ports {sorted(published)}"
    if len(names) != per_host * len(looks):
        return f"{len(names)} distinct replica names for {per_host * len(looks)} replicas"
    return None


def container_ids(looks: Mapping[str, str]) -> dict[str, tuple[str, ...]]:
    """host -> the sorted ids of its managed containers, from LOOK output."""
    return {
        host: tuple(sorted(line.split("\t", 1)[0] for line in text.splitlines() if line.strip()))
        for host, text in looks.items()
    }


# ---------------------------------------------------------------- the contenders' outputs

STATS_FIELD = re.compile(r"(\w+)=(\d+)")


def orchestr_events(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]


def recap_counts(row: object) -> dict[str, int]:
    """A host's recap counters from the JSON recap: an object ({"ok": 1, ...}), or, before
    orchestr 66abc3a, the repr of its Stats ("Stats(ok=1, changed=1, ...)")."""
    if isinstance(row, Mapping):
        return {str(k): int(v) for k, v in row.items()}
    return {k: int(v) for k, v in STATS_FIELD.findall(str(row))}


def orchestr_problem(stdout: str, hosts: int, replicas: int, changed: bool) -> str | None:
    """Why `orchestr apply --json` output is not one successful service task, run once (on the
    first host), that placed `replicas` new replicas (changed) or found nothing to do."""
    events = orchestr_events(stdout)
    results = [e for e in events if e.get("event") == "host_result"]
    if len(results) != 1:
        return f"{len(results)} task results, expected 1 (the service task runs once)"
    result = results[0]
    data = result.get("registered") or {}
    if result.get("status") not in ("ok", "changed") or data.get("failed"):
        return f"service task {result.get('status')}: {data.get('msg', '')}"
    if bool(data.get("changed")) != changed:
        return f"service task changed={data.get('changed')}, expected {changed}: {data.get('msg')}"
    actions = data.get("actions") or []
    placed = [a for a in actions if a["kind"] == "place"]
    wanted = replicas if changed else 0
    if len(placed) != wanted or len(actions) != wanted:
        return f"{len(placed)} replicas placed ({len(actions)} actions), expected {wanted}"
    recaps = [e for e in events if e.get("event") == "recap"]
    if len(recaps) != 1:
        return "no recap"
    stats = {host: recap_counts(row) for host, row in recaps[0].get("stats", {}).items()}
    if len(stats) != hosts:
        return f"{len(stats)} of {hosts} hosts in the recap"
    first = result.get("host")
    for host, row in stats.items():
        expected_changed = int(changed) if host == first else 0
        if row.get("failed") or row.get("unreachable") or row.get("changed") != expected_changed:
            return f"recap {host}: {row}, expected changed={expected_changed} and no failure"
    return None


def orchestr_seconds(stdout: str) -> float | None:
    """The run's own time from its `finished` event (the process minus start-up and exit)."""
    for event in orchestr_events(stdout):
        if event.get("event") == "finished":
            return event.get("seconds")
    return None


ANSIBLE_ITEM = re.compile(r"^changed: \[(\S+)\] => \(item=(\d+)\)$", re.MULTILINE)


def ansible_problem(stdout: str, hosts: int, per_host: int) -> str | None:
    """Every host ok=1 changed=1 in the recap, one changed item per replica."""
    rows = recap(stdout)
    if len(rows) != hosts:
        return f"{len(rows)} of {hosts} hosts in the recap"
    for host, row in sorted(rows.items()):
        if (row["ok"], row["changed"], row["failed"], row["unreachable"]) != (1, 1, 0, 0):
            return f"recap {host}: {row}"
    items = {(m.group(1), m.group(2)) for m in ANSIBLE_ITEM.finditer(stdout)}
    if len(items) != hosts * per_host:
        return f"{len(items)} replicas started, expected {hosts * per_host}"
    return None


def pyinfra_problem(text: str, hosts: int) -> str | None:
    """pyinfra's results table: the one operation done on every host, no error."""
    rows = [r for r in pyinfra_results(text) if r.operation != "Grand total"]
    if len(rows) != 1:
        return f"{len(rows)} operations in pyinfra's results, expected 1"
    row = rows[0]
    if row.hosts != hosts or row.success != hosts or row.error:
        return f"{row.operation}: {row.success} of {hosts} hosts succeeded, {row.error} errors"
    return None


BARE_DEPLOYED = re.compile(r"^(\S+) rc=0 ids=([0-9a-f,]+)$", re.MULTILINE)
BARE_OBSERVED = re.compile(r"^(\S+) rc=0 running=(\d+) wanted=(\d+) image=yes$", re.MULTILINE)


def bare_problem(stdout: str, hosts: int, per_host: int, observe: bool) -> str | None:
    if observe:
        found = {m.group(1) for m in BARE_OBSERVED.finditer(stdout)
                 if int(m.group(2)) == int(m.group(3)) == per_host}  # fmt: skip
        what = f"saw {per_host} running replicas"
    else:
        found = {m.group(1) for m in BARE_DEPLOYED.finditer(stdout)
                 if len(m.group(2).split(",")) == per_host}  # fmt: skip
        what = f"started {per_host} replicas"
    if len(found) != hosts:
        return f"{len(found)} of {hosts} hosts {what}"
    return None


def peer_look_problem(text: str, replicas: int) -> str | None:
    seen = len(PEER_LOOK_LINE.findall(text))
    if seen != replicas:
        return f"{seen} running replicas listed, expected {replicas}"
    return None


# ---------------------------------------------------------------- the scenarios


def both(*checks: Callable[[subprocess.CompletedProcess], str | None]) -> Check:
    """The first problem any check finds (they run in order; later ones only if all passed)."""

    def check(done: subprocess.CompletedProcess) -> str | None:
        for one in checks:
            problem = one(done)
            if problem:
                return problem
        return None

    return check


class _Service(LabScenario):
    default_hosts = 20
    needs_peers = True
    group = "nodes"

    @property
    def replicas(self) -> int:
        return PER_HOST * self.count

    def setup(self, ctx: Context) -> None:
        super().setup(ctx)
        self.ensure_image(ctx)
        ctx.data.update({"service": SERVICE, "image": IMAGE, "replicas": self.replicas,
                         "per_host": PER_HOST, "ports": f"{PORTS[0]}-{PORTS[1]}:80",
                         "store": str(STORE)})  # fmt: skip

    def ensure_image(self, ctx: Context) -> None:
        """The demo image in the local docker, then on every node (untimed): 'image present'."""
        from orchestr.lab.images import ensure_demo_image

        asyncio.run(ensure_demo_image())
        present = subprocess.run(self.orchestr_exec_argv(IMAGE_PRESENT), capture_output=True,
                                 stdin=subprocess.DEVNULL, timeout=120)  # fmt: skip
        if present.returncode != 0:
            ctx.say(f"loading {IMAGE} onto the lab's nodes")
            run_checked([lab.orchestr_bin(), "lab", "load-image", IMAGE, "--name", lab.LAB],
                        f"orchestr lab load-image {IMAGE}")  # fmt: skip
        run_checked(self.orchestr_exec_argv(IMAGE_PRESENT), f"{IMAGE} on every node")

    # -------------------------------------------------------- untimed helpers

    def wipe(self) -> None:
        """Every managed container gone from every node, and orchestr's store with it."""
        run_checked(self.orchestr_exec_argv(WIPE), "removing the managed containers")
        shutil.rmtree(STORE_DIR, ignore_errors=True)
        STORE_DIR.mkdir(parents=True)

    def look(self) -> dict[str, str]:
        """host -> LOOK output, over the floor's own asyncssh code (not orchestr's)."""
        assert self.inventory is not None
        inv = self.inventory
        names = {t.address: t.name for t in inv.targets}
        results = asyncio.run(
            ssh_run.run_all(list(names), LOOK, inv.user, inv.private_key, inv.known_hosts)
        )
        bad = [f"{names[a]}: rc={status} {text}" for a, status, text in results if status]
        if bad:
            raise RuntimeError("looking at the nodes failed: " + "; ".join(bad[:3]))
        return {names[a]: text for a, _, text in results}

    def nodes_check(self, expected_ids: Mapping[str, Sequence[str]] | None = None) -> Check:
        def check(done: subprocess.CompletedProcess) -> str | None:
            try:
                looks = self.look()
            except RuntimeError as error:
                return str(error)
            problem = replicas_problem(looks, PER_HOST)
            if problem:
                return f"on the nodes: {problem}"
            if expected_ids is not None and container_ids(looks) != dict(expected_ids):
                return "on the nodes: replicas were replaced (container ids changed)"
            return None

        return check

    def apply_argv(self) -> list[str]:
        return [lab.orchestr_bin(), "apply", str(PLAYBOOK), "-i", str(self.inventory_path),
                "-f", str(self.count), "-e", f"replicas={self.replicas}", "--json"]  # fmt: skip

    def bare_argv(self, *flags: str) -> list[str]:
        assert self.inventory is not None
        inv = self.inventory
        return [sys.executable, str(BARE), "--key", inv.private_key, "--known-hosts",
                inv.known_hosts, "--user", inv.user, "--service", SERVICE, "--image", IMAGE,
                "--per-host", str(PER_HOST), "--port-base", str(PORTS[0]), *flags,
                *(f"{t.name}={t.address}" for t in inv.targets)]  # fmt: skip

    def orchestr_contender(self, ctx: Context, changed: bool, check: Check,
                           before: Callable[[], None] | None) -> Contender:  # fmt: skip
        counter = RunCounter(ctx.warmup)
        self.orchestr_counter = counter
        hosts, replicas = self.count, self.replicas

        def started() -> None:
            counter.started()
            if before is not None:
                before()

        def checked(done: subprocess.CompletedProcess) -> str | None:
            problem = orchestr_problem(done.stdout, hosts, replicas, changed) or check(done)
            if problem is None:
                counter.keep(orchestr_seconds(done.stdout))
            return problem

        return Contender("orchestr", self.apply_argv(), env={"ORCHESTR_STORE": str(STORE)},
                         check=checked, before=started)  # fmt: skip

    def teardown(self, ctx: Context) -> None:
        counter = getattr(self, "orchestr_counter", None)
        if counter is not None and counter.kept:
            ctx.data["orchestr_finished_seconds"] = counter.kept
            ctx.notes.append("orchestr: its own `finished` seconds per measured run (start-up "
                             f"and exit left out): {counter.kept}")  # fmt: skip
        if self.inventory is not None and not (self.created and not ctx.keep_lab):
            try:  # leave a lab that stays up without the benchmark's containers
                run_checked(self.orchestr_exec_argv(WIPE), "removing the managed containers")
            except (RuntimeError, subprocess.TimeoutExpired) as error:
                ctx.say(f"could not remove the service's containers: {error}")
        shutil.rmtree(STORE_DIR, ignore_errors=True)
        super().teardown(ctx)


@register
class ServiceDeploy(_Service):
    name = "service-deploy"
    summary = "service of 2 replicas per node from nothing: orchestr apply vs docker runs by peers"

    def contenders(self, ctx: Context) -> list[Contender]:
        assert self.workdir is not None
        count, forks, replicas = self.count, str(self.count), self.replicas
        nodes = self.nodes_check()

        def wiping(*hooks: Callable[[], Mapping[str, str] | None]):
            def before() -> dict[str, str]:
                self.wipe()
                env: dict[str, str] = {}
                for hook in hooks:
                    env.update(hook() or {})
                return env

            return before

        orchestr = self.orchestr_contender(ctx, changed=True, check=nodes, before=self.wipe)

        control = FreshControlPath(self.workdir)
        ansible = Contender(
            "ansible-playbook",
            [str(PEERS_BIN / "ansible-playbook"), str(ANSIBLE_PLAYBOOK),
             "-i", str(self.inventory_path), "-f", forks,
             "-e", f"per_host={PER_HOST} port_base={PORTS[0]} image={IMAGE} service={SERVICE}"],
            env={"ANSIBLE_PIPELINING": "True", "ANSIBLE_NOCOLOR": "1",
                 "ANSIBLE_LOCAL_TEMP": str(self.workdir / "ansible-tmp")},
            check=both(lambda d: ansible_problem(d.stdout, count, PER_HOST), nodes),
            before=wiping(control.before), after=control.after,
        )  # fmt: skip

        pyinfra = Contender(
            "pyinfra",
            [str(PEERS_BIN / "pyinfra"), "-y", "--parallel", forks,
             str(self.workdir / "pyinfra_inventory.py"), str(DEPLOY),
             "--data", f"per_host={PER_HOST}", "--data", f"port_base={PORTS[0]}",
             "--data", f"image={IMAGE}", "--data", f"service={SERVICE}"],
            check=both(lambda d: pyinfra_problem(f"{d.stdout}\n{d.stderr}", count), nodes),
            before=wiping(),
        )  # fmt: skip

        bare = Contender(
            "bare",
            self.bare_argv(),
            check=both(lambda d: bare_problem(d.stdout, count, PER_HOST, observe=False), nodes),
            before=wiping(),
        )
        ctx.data["expected"] = f"{replicas} replicas started, {PER_HOST} per host"
        return [orchestr, ansible, pyinfra, bare]


@register
class ServiceSteady(_Service):
    name = "service-steady"
    summary = "second apply of the service on an unchanged cluster: orchestr vs the bare look"

    def setup(self, ctx: Context) -> None:
        super().setup(ctx)
        ctx.say(f"deploying {self.replicas} replicas of {SERVICE} once (untimed)")
        self.wipe()
        done = subprocess.run(self.apply_argv(), capture_output=True, text=True,
                              stdin=subprocess.DEVNULL, timeout=600,
                              env={**os.environ, "ORCHESTR_STORE": str(STORE)})  # fmt: skip
        problem = (
            f"exit {done.returncode}: {done.stderr.strip()[-2000:]}"
            if done.returncode
            else orchestr_problem(done.stdout, self.count, self.replicas, changed=True)
        )
        looks = self.look()
        problem = problem or replicas_problem(looks, PER_HOST)
        if problem:
            raise RuntimeError(f"the set-up deploy failed: {problem}")
        self.ids = container_ids(looks)

    def contenders(self, ctx: Context) -> list[Contender]:
        count, replicas = self.count, self.replicas
        unchanged = self.nodes_check(self.ids)
        orchestr = self.orchestr_contender(ctx, changed=False, check=unchanged, before=None)
        bare = Contender(
            "bare",
            self.bare_argv("--observe"),
            check=both(lambda d: bare_problem(d.stdout, count, PER_HOST, observe=True),
                       unchanged),
        )  # fmt: skip
        ansible = self.ansible(
            "command", PEER_LOOK, count,
            both(check_pattern(count, ANSIBLE_OK, "ansible success blocks"),
                 lambda d: peer_look_problem(d.stdout, replicas), unchanged),
        )  # fmt: skip
        ansible.note = "information only: an ad-hoc look at the replicas, no service to keep"
        pyinfra = self.pyinfra(
            PEER_LOOK, count,
            both(check_pattern(count, PYINFRA_OK, "pyinfra success lines"),
                 lambda d: peer_look_problem(f"{d.stdout}\n{d.stderr}", replicas), unchanged),
        )  # fmt: skip
        pyinfra.note = ansible.note
        return [orchestr, bare, ansible, pyinfra]
