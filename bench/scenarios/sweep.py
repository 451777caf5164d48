"""sweep: one health sweep of a service of 4 replicas per lab node (80 over 20 hosts) of the demo
image, each publishing port 80 on a port of 31000-31010 with an HTTP health check on /healthz.
Issue target: the cold sweep (cron: a whole process, new connections) within 1.2x of the bare
floor, at least 5x faster than ansible-playbook and faster than pyinfra doing the same checks;
the warm sweep (orchestr watch, connections kept open) under 0.3 s.

Set-up (untimed, once): the lab, the image on every node, the service `sweep` deployed with
orchestr apply into the bench store /tmp/bench-sweep/orchestr.db (any replica of the service
left from an earlier run removed first), then one untimed sweep that must find 80 healthy.
The service has a name of its own so that the replicas of other engineers' services on the same
lab are left alone; every contender observes all managed containers and probes this service's.

Contenders of the cold sweep (forks = the host count, so all hosts go at once):
  orchestr          ORCHESTR_STORE=... orchestr sweep --json -i INVENTORY (exit 0, the
                    service's report: desired 80, healthy 80)
  bare              bench/bare/sweep.py: asyncssh, per host one command: docker ps -aq of the
                    managed containers | xargs docker inspect, curl of each replica's
                    127.0.0.1:PORT/healthz; prints healthy=80 (the floor)
  ansible-playbook  bench/playbooks/sweep_ansible.yml -f N (the same command as a `shell` task,
                    a `debug` of the healthy count; pipelining on, a fresh ControlPath per run)
  pyinfra           bench/pyinfra/sweep.py: the same command with server.shell, a python.call
                    printing the healthy count

Warm (measured after the rounds, untimed by the harness, saved under data.warm):
  orchestr watch --interval 0.5s --count 12 --json --report-only: each line's own "seconds";
  the median of sweeps 3..12 is reported (--report-only: a loaded machine that misses a host
  must not make the benchmark heal, i.e. move, its replicas; an unchanged cluster is swept
  the same way either way). bench/bare/sweep.py --loop 12 --interval 0.5: the same over
  kept-open asyncssh connections.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

from bench import lab
from bench.environment import BENCH_DIR, PEERS_BIN
from bench.harness import Check, Contender
from bench.scenarios import Context, register
from bench.scenarios.common import FreshControlPath, LabScenario, RunCounter, run_checked

BARE = BENCH_DIR / "bare" / "sweep.py"
ANSIBLE_PLAYBOOK = BENCH_DIR / "playbooks" / "sweep_ansible.yml"
DEPLOY = BENCH_DIR / "pyinfra" / "sweep.py"

SERVICE = "sweep"
IMAGE = "orchestr-demo:1"
PER_HOST = 4
PORTS = "31000-31010:80"
STORE_DIR = Path("/tmp/bench-sweep")
STORE = STORE_DIR / "orchestr.db"
WARM_COUNT = 12
WARM_INTERVAL = "0.5s"
WARM_SKIP = 2  # the first sweeps connect and read facts: the warm figure is sweeps 3..12

IMAGE_PRESENT = f"docker image inspect {IMAGE} >/dev/null"
# Remove this service's containers only (untimed): other services on the lab stay.
WIPE = (
    f"ids=$(docker ps -aq --filter label=orchestr.service={SERVICE}); "
    '[ -z "$ids" ] || docker rm -f $ids >/dev/null'
)

DEPLOY_PLAYBOOK = """\
- hosts: nodes
  gather_facts: false
  tasks:
    - orchestr.cluster.service:
        name: {service}
        image: {image}
        replicas: {replicas}
        max_per_host: {per_host}
        ports: ["{ports}"]
        health: {{http: /healthz, interval: 1s, timeout: 1s, rise: 1, fall: 2}}
"""

BARE_TOTAL = re.compile(r"^healthy=(\d+)$", re.MULTILINE)
BARE_HOST = re.compile(r"^(\S+) rc=0 running=(\d+) healthy=(\d+)$", re.MULTILINE)
ANSIBLE_HEALTHY = re.compile(r'^ok: \[(\S+)\] => \{\n\s+"msg": "healthy=(\d+)"', re.MULTILINE)
PYINFRA_HEALTHY = re.compile(r"^\[(\S+)\] healthy=(\d+)\s*$", re.MULTILINE)


# ---------------------------------------------------------------- output checks


def orchestr_report(stdout: str) -> dict | None:
    """The last JSON object `orchestr sweep --json` printed."""
    lines = [line for line in stdout.splitlines() if line.startswith("{")]
    return json.loads(lines[-1]) if lines else None


def orchestr_problem(stdout: str, hosts: int, replicas: int) -> str | None:
    report = orchestr_report(stdout)
    if report is None:
        return "no JSON report"
    counts = report.get("services", {}).get(SERVICE)
    if not counts:
        return f"service {SERVICE!r} not in the report"
    if (counts.get("desired"), counts.get("healthy")) != (replicas, replicas):
        return f"{SERVICE}: {counts}, expected {replicas} desired and healthy"
    up = [h for h, state in report.get("hosts", {}).items() if state == "up"]
    if len(up) != hosts:
        return f"{len(up)} of {hosts} hosts up"
    if report.get("actions") or report.get("exit") != 0:
        return f"exit {report.get('exit')}, actions {report.get('actions')}"
    return None


def per_host_problem(pattern: re.Pattern, text: str, hosts: int, replicas: int) -> str | None:
    """Every host reported once, the healthy counts adding up to `replicas`."""
    found = {m.group(1): int(m.group(m.lastindex or 1)) for m in pattern.finditer(text)}
    if len(found) != hosts:
        return f"{len(found)} of {hosts} hosts reported"
    if sum(found.values()) != replicas:
        return f"{sum(found.values())} healthy replicas, expected {replicas}"
    return None


def bare_problem(stdout: str, hosts: int, replicas: int) -> str | None:
    total = BARE_TOTAL.search(stdout)
    if not total or int(total.group(1)) != replicas:
        return f"healthy={total.group(1) if total else '?'}, expected {replicas}"
    return per_host_problem(BARE_HOST, stdout, hosts, replicas)


def warm_median(seconds: list[float], skip: int = WARM_SKIP) -> float | None:
    kept = seconds[skip:]
    return statistics.median(kept) if kept else None


# ---------------------------------------------------------------- the scenario


@register
class Sweep(LabScenario):
    name = "sweep"
    summary = "one health sweep of 4 replicas per node: orchestr sweep vs bare, ansible, pyinfra"
    default_hosts = 20
    needs_peers = True
    group = "nodes"

    @property
    def replicas(self) -> int:
        return PER_HOST * self.count

    def env(self) -> dict[str, str]:
        return {"ORCHESTR_STORE": str(STORE), "ORCHESTR_INVENTORY": str(self.inventory_path)}

    def setup(self, ctx: Context) -> None:
        super().setup(ctx)
        self.deployed = False
        # orchestr's own helper commands of the set-up read the store from the environment
        os.environ.update(self.env())
        self.ensure_image(ctx)
        ctx.say(f"deploying {self.replicas} replicas of {SERVICE} with orchestr (untimed)")
        self.wipe()
        playbook = ctx.workdir / "sweep_deploy.yml"
        playbook.write_text(
            DEPLOY_PLAYBOOK.format(
                service=SERVICE, image=IMAGE, ports=PORTS, replicas=self.replicas, per_host=PER_HOST
            )
        )
        run_checked([lab.orchestr_bin(), "apply", str(playbook), "-i", str(self.inventory_path),
                     "-f", str(self.count)],
                    "deploying the service", timeout=900)  # fmt: skip
        self.deployed = True
        done = run_checked(self.sweep_argv(), "the untimed first sweep")
        problem = orchestr_problem(done.stdout, self.count, self.replicas)
        if problem:
            raise RuntimeError(f"the set-up sweep: {problem}")
        others = self.other_managed()
        ctx.data.update({"service": SERVICE, "image": IMAGE, "replicas": self.replicas,
                         "per_host": PER_HOST, "ports": PORTS, "store": str(STORE),
                         "other_managed_containers": others})  # fmt: skip
        if others:
            ctx.notes.append(f"{others} managed containers of other services were on the lab: "
                             "every contender inspected them too (orchestr observes them all)")  # fmt: skip

    def ensure_image(self, ctx: Context) -> None:
        from orchestr.lab.images import ensure_demo_image

        asyncio.run(ensure_demo_image("1"))
        present = subprocess.run(self.orchestr_exec_argv(IMAGE_PRESENT), capture_output=True,
                                 stdin=subprocess.DEVNULL, timeout=120)  # fmt: skip
        if present.returncode != 0:
            ctx.say(f"loading {IMAGE} onto the lab's nodes")
            run_checked([lab.orchestr_bin(), "lab", "load-image", IMAGE, "--name", lab.LAB],
                        f"orchestr lab load-image {IMAGE}", timeout=900)  # fmt: skip

    def wipe(self) -> None:
        run_checked(self.orchestr_exec_argv(WIPE), f"removing the replicas of {SERVICE}")
        shutil.rmtree(STORE_DIR, ignore_errors=True)
        STORE_DIR.mkdir(parents=True)

    def other_managed(self) -> int:
        done = subprocess.run(
            self.orchestr_exec_argv("docker ps -aq --filter label=orchestr.managed-by=orchestr "
                                    f"| wc -l; docker ps -aq --filter label=orchestr.service={SERVICE} | wc -l"),
            capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=120,
        )  # fmt: skip
        pairs = re.findall(r"^(\d+)\n(\d+)$", done.stdout, re.MULTILINE)
        return sum(int(a) - int(b) for a, b in pairs)

    def sweep_argv(self) -> list[str]:
        return [lab.orchestr_bin(), "sweep", "--json", "-i", str(self.inventory_path)]

    def bare_argv(self, *flags: str) -> list[str]:
        assert self.inventory is not None
        inv = self.inventory
        return [sys.executable, str(BARE), "--key", inv.private_key, "--known-hosts",
                inv.known_hosts, "--user", inv.user, "--service", SERVICE, *flags,
                *(f"{t.name}={t.address}" for t in inv.targets)]  # fmt: skip

    def contenders(self, ctx: Context) -> list[Contender]:
        assert self.workdir is not None
        hosts, replicas, forks = self.count, self.replicas, str(self.count)
        counter = RunCounter(ctx.warmup)
        self.counter = counter

        def orchestr_check(done: subprocess.CompletedProcess) -> str | None:
            problem = orchestr_problem(done.stdout, hosts, replicas)
            if problem is None:
                counter.keep((orchestr_report(done.stdout) or {}).get("seconds"))
            return problem

        def text_check(pattern: re.Pattern) -> Check:
            def check(done: subprocess.CompletedProcess) -> str | None:
                return per_host_problem(pattern, f"{done.stdout}\n{done.stderr}", hosts, replicas)

            return check

        control = FreshControlPath(self.workdir)
        return [
            Contender(
                "orchestr",
                self.sweep_argv(),
                env=self.env(),
                check=orchestr_check,
                before=counter.started,
            ),  # fmt: skip
            Contender(
                "bare", self.bare_argv(), check=lambda d: bare_problem(d.stdout, hosts, replicas)
            ),  # fmt: skip
            Contender(
                "ansible-playbook",
                [
                    str(PEERS_BIN / "ansible-playbook"),
                    str(ANSIBLE_PLAYBOOK),
                    "-i",
                    str(self.inventory_path),
                    "-f",
                    forks,
                    "-e",
                    f"service={SERVICE}",
                ],
                env={
                    "ANSIBLE_PIPELINING": "True",
                    "ANSIBLE_NOCOLOR": "1",
                    "ANSIBLE_LOCAL_TEMP": str(self.workdir / "ansible-tmp"),
                },
                check=text_check(ANSIBLE_HEALTHY),
                before=control.before,
                after=control.after,
            ),  # fmt: skip
            Contender(
                "pyinfra",
                [
                    str(PEERS_BIN / "pyinfra"),
                    "-y",
                    "--parallel",
                    forks,
                    str(self.workdir / "pyinfra_inventory.py"),
                    str(DEPLOY),
                    "--data",
                    f"service={SERVICE}",
                ],
                check=text_check(PYINFRA_HEALTHY),
            ),  # fmt: skip
        ]

    # -------------------------------------------------------- warm sweeps

    def warm(self, ctx: Context) -> None:
        """orchestr watch and the bare loop, each once (untimed by the harness)."""
        ctx.say(f"warm: orchestr watch --interval {WARM_INTERVAL} --count {WARM_COUNT}")
        done = subprocess.run(
            [lab.orchestr_bin(), "watch", "--interval", WARM_INTERVAL, "--count", str(WARM_COUNT),
             "--json", "--report-only", "-i", str(self.inventory_path)],
            capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=300,
            env={**os.environ, **self.env()},
        )  # fmt: skip
        rows = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
        orchestr = {
            "command": f"orchestr watch --interval {WARM_INTERVAL} --count {WARM_COUNT} --json "
            "--report-only",
            "exit": done.returncode,
            "seconds": [row.get("seconds") for row in rows],
            "healthy": [row.get("services", {}).get(SERVICE, {}).get("healthy") for row in rows],
            "exit_codes": [row.get("exit") for row in rows],
        }
        orchestr["median_after_2"] = warm_median(orchestr["seconds"])
        ctx.say(f"warm: bare --loop {WARM_COUNT}")
        done = subprocess.run(self.bare_argv("--loop", str(WARM_COUNT), "--interval", "0.5"),
                              capture_output=True, text=True, stdin=subprocess.DEVNULL,
                              timeout=300)  # fmt: skip
        rows = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
        bare = {
            "command": f"bench/bare/sweep.py --loop {WARM_COUNT} --interval 0.5",
            "exit": done.returncode,
            "seconds": [row["seconds"] for row in rows],
            "healthy": [row["healthy"] for row in rows],
        }
        bare["median_after_2"] = warm_median(bare["seconds"])
        ctx.data["warm"] = {"orchestr": orchestr, "bare": bare,
                            "note": f"median of sweeps {WARM_SKIP + 1}..{WARM_COUNT}"}  # fmt: skip
        for name, row in (("orchestr watch", orchestr), ("bare loop", bare)):
            ctx.notes.append(f"warm {name}: median of sweeps {WARM_SKIP + 1}..{WARM_COUNT} "
                             f"{row['median_after_2']} s; all: {row['seconds']}; "
                             f"healthy {row['healthy']}")  # fmt: skip

    def teardown(self, ctx: Context) -> None:
        counter = getattr(self, "counter", None)
        if counter is not None and counter.kept:
            ctx.data["orchestr_report_seconds"] = counter.kept
            ctx.notes.append("orchestr: the sweep's own `seconds` per measured run (start-up, "
                             f"store and exit left out): {counter.kept}")  # fmt: skip
        if getattr(self, "deployed", False):
            try:
                self.warm(ctx)
            except (subprocess.TimeoutExpired, ValueError, KeyError) as error:
                ctx.say(f"warm measurement failed: {error}")
        if self.inventory is not None and not (self.created and not ctx.keep_lab):
            try:  # a lab that stays up keeps no replicas of the benchmark's service
                run_checked(self.orchestr_exec_argv(WIPE), f"removing the replicas of {SERVICE}")
            except (RuntimeError, subprocess.TimeoutExpired) as error:
                ctx.say(f"could not remove the service's containers: {error}")
        shutil.rmtree(STORE_DIR, ignore_errors=True)
        for name in self.env():
            os.environ.pop(name, None)
        super().teardown(ctx)
