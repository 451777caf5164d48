"""Benchmark: `orchestr dns serve` against dnsmasq serving the same records on the same machine,
measured with dnsperf side by side (the servers take turns, round after round, and the medians
are compared). One more orchestr run rewrites the zone file every second while dnsperf asks,
to count the queries a reload loses (the goal: none) and check the answers stay whole.

Needs the Debian packages dnsperf and dnsmasq-base (installed with apt-get when missing).

Usage: python -m bench.dns_bench [--rounds 3] [--seconds 10] [--services 20] [--no-reload-run]
Writes bench/results/dns-<timestamp>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

if __package__ in (None, ""):  # run as a file: make `bench` and `orchestr` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dnslib import QTYPE, DNSRecord  # noqa: E402

from bench.environment import RESULTS_DIR, load_average, machine, orchestr_versions  # noqa: E402
from orchestr.discovery.snapshot import Endpoint, ServiceEndpoints, Snapshot  # noqa: E402
from orchestr.discovery.zone import render_zone, write_zone  # noqa: E402

ZONE = "orchestr.internal"
TTL = 5
APT_PACKAGES = ("dnsperf", "dnsmasq-base")
TARGET_RATIO = 0.25
ORCHESTR_PORT = 15353
DNSMASQ_PORT = 15354
OUTSTANDING = 100  # dnsperf's default: queries in flight at once


def say(message: str) -> None:
    print(f"[dns-bench] {message}", file=sys.stderr, flush=True)


def ensure_packages() -> None:
    if shutil.which("dnsperf") and shutil.which("dnsmasq"):
        return
    say(f"installing {' '.join(APT_PACKAGES)} with apt-get")
    environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=environment)
    subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *APT_PACKAGES],
                   check=True, env=environment, stdout=subprocess.DEVNULL)  # fmt: skip


def tool_version(argv: list[str]) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    text = (done.stdout + done.stderr).strip()
    return text.splitlines()[0] if text else ""


# -- the records --------------------------------------------------------------------------------


def make_snapshot(services: int, hosts: int = 5, replicas: int = 3, shift: int = 0) -> Snapshot:
    """`services` services of `replicas` healthy replicas spread over `hosts` hosts; `shift`
    moves them, so a reload changes the records."""
    addresses = {f"node{h}": f"10.10.0.{h + 1}" for h in range(hosts)}
    result = []
    for s in range(services):
        endpoints = tuple(
            Endpoint(f"svc{s:02d}", str(r + 1), f"node{(s + r + shift) % hosts}",
                     addresses[f"node{(s + r + shift) % hosts}"], 30000 + s * 10 + r)
            for r in range(replicas)
        )  # fmt: skip
        result.append(ServiceEndpoints(f"svc{s:02d}", 8080, None, None, endpoints))
    return Snapshot(tuple(result), addresses)


def dnsmasq_records(snapshot: Snapshot, directory: Path) -> tuple[Path, list[str]]:
    """The same A and SRV records for dnsmasq: a hosts file and --srv-host options."""
    lines = [f"{address} {host}.{ZONE}" for host, address in sorted(snapshot.hosts.items())]
    options = []
    for service in snapshot.services:
        for address in sorted({e.address for e in service.healthy}):
            lines.append(f"{address} {service.name}.{ZONE}")
        for e in service.healthy:
            options.append(f"--srv-host=_{service.name}._tcp.{ZONE},{e.host}.{ZONE},{e.port},"
                           f"10,{e.weight}")  # fmt: skip
    hosts_file = directory / "dnsmasq.hosts"
    hosts_file.write_text("\n".join(lines) + "\n")
    return hosts_file, options


def query_file(snapshot: Snapshot, directory: Path) -> Path:
    """A and SRV of every service, interleaved: the lookups service discovery makes."""
    lines = []
    for service in snapshot.services:
        lines.append(f"{service.name}.{ZONE} A")
        lines.append(f"_{service.name}._tcp.{ZONE} SRV")
    path = directory / "queries.txt"
    path.write_text("\n".join(lines) + "\n")
    return path


def answers(port: int, queries: Path) -> dict[str, set[str]]:
    """Each query's answer records, to check both servers say the same."""
    result = {}
    for line in queries.read_text().splitlines():
        name, kind = line.split()
        reply = DNSRecord.parse(DNSRecord.question(name, kind).send("127.0.0.1", port, timeout=3))
        result[line] = {f"{QTYPE[r.rtype]} {r.rdata}" for r in reply.rr}
    return result


# -- the servers --------------------------------------------------------------------------------


def wait_answering(port: int, name: str, deadline: float = 15.0) -> None:
    stop = time.monotonic() + deadline
    while True:
        try:
            DNSRecord.question(name).send("127.0.0.1", port, timeout=0.5)
            return
        except OSError:
            if time.monotonic() > stop:
                raise
            time.sleep(0.1)


def start_orchestr(zone_file: Path) -> subprocess.Popen:
    argv = [sys.executable, "-c", "from orchestr.cli import entry; entry()", "dns", "serve",
            "--zone-file", str(zone_file), "--listen", f"127.0.0.1:{ORCHESTR_PORT}"]  # fmt: skip
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    wait_answering(ORCHESTR_PORT, f"svc00.{ZONE}")
    return process


def start_dnsmasq(hosts_file: Path, srv_options: list[str]) -> subprocess.Popen:
    argv = ["dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null", "--pid-file=",
            f"--port={DNSMASQ_PORT}", "--listen-address=127.0.0.1", "--bind-interfaces",
            "--no-resolv", "--no-hosts", f"--addn-hosts={hosts_file}", f"--local-ttl={TTL}",
            f"--local=/{ZONE}/", "--user=root", *srv_options]  # fmt: skip
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wait_answering(DNSMASQ_PORT, f"svc00.{ZONE}")
    return process


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# -- measuring ----------------------------------------------------------------------------------

FIELDS = {
    "sent": r"Queries sent:\s+(\d+)",
    "completed": r"Queries completed:\s+(\d+)",
    "lost": r"Queries lost:\s+(\d+)",
    "qps": r"Queries per second:\s+([\d.]+)",
    "avg_latency_ms": r"Average Latency \(s\):\s+([\d.]+)",
    "latency_stddev_ms": r"Latency StdDev \(s\):\s+([\d.]+)",
}


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used: what a query costs the server, which the
    machine's other load does not change as much as it changes queries/s."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def dnsperf(port: int, queries: Path, seconds: float, server: subprocess.Popen) -> dict:
    argv = ["dnsperf", "-s", "127.0.0.1", "-p", str(port), "-d", str(queries), "-l", str(seconds),
            "-q", str(OUTSTANDING), "-t", "5"]  # fmt: skip
    cpu_before = cpu_seconds(server.pid)
    done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60)
    cpu = cpu_seconds(server.pid) - cpu_before
    result: dict = {"load_average": load_average(), "server_cpu_seconds": round(cpu, 2)}
    for key, pattern in FIELDS.items():
        match = re.search(pattern, done.stdout)
        value = float(match.group(1)) if match else None
        if value is not None and key.endswith("_ms"):
            value = round(value * 1000, 3)
        result[key] = value
    codes = re.search(r"Response codes:\s+(.+)", done.stdout)
    result["response_codes"] = codes.group(1).strip() if codes else ""
    if result["qps"] is None:
        raise RuntimeError(f"dnsperf printed no results:\n{done.stdout}\n{done.stderr}")
    result["server_cpu_us_per_query"] = round(cpu / max(result["completed"], 1) * 1e6, 2)
    return result


def reload_run(zone_file: Path, services: int, queries: Path, seconds: float) -> dict:
    """dnsperf against orchestr while the zone is rewritten (records moved, serial up) every
    second, and a checker comparing whole answers with the versions written."""
    versions = [render_zone(make_snapshot(services, shift=n), zone=ZONE, ttl=TTL, serial=1000 + n)
                for n in range(2)]  # fmt: skip
    write_zone(zone_file, versions[0])
    expected: dict[str, set[frozenset[str]]] = {}
    process = start_orchestr(zone_file)
    try:
        for text in versions:
            write_zone(zone_file, text)
            time.sleep(1.2)
            for line, got in answers(ORCHESTR_PORT, queries).items():
                expected.setdefault(line, set()).add(frozenset(got))
        finished = threading.Event()
        rewrites = 0
        mismatches: list[str] = []

        def rewrite() -> None:
            nonlocal rewrites
            while not finished.wait(1.0):
                rewrites += 1
                write_zone(zone_file, versions[rewrites % 2])

        def check() -> None:
            while not finished.is_set():
                for line, got in answers(ORCHESTR_PORT, queries).items():
                    if frozenset(got) not in expected[line]:
                        mismatches.append(f"{line}: {sorted(got)}")
                time.sleep(0.05)

        threads = [threading.Thread(target=rewrite), threading.Thread(target=check)]
        for thread in threads:
            thread.start()
        try:
            result = dnsperf(ORCHESTR_PORT, queries, seconds, process)
        finally:
            finished.set()
            for thread in threads:
                thread.join()
    finally:
        stop(process)
    reloads = sum("reloaded" in line for line in (process.stdout.read() or "").splitlines())
    return {**result, "rewrites": rewrites, "reloads": reloads, "wrong_answers": mismatches[:20],
            "wrong_answer_count": len(mismatches)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--services", type=int, default=20)
    parser.add_argument("--no-reload-run", action="store_true")
    options = parser.parse_args()
    ensure_packages()
    started = datetime.now(UTC)
    snapshot = make_snapshot(options.services)
    runs: dict[str, list[dict]] = {"orchestr": [], "dnsmasq": []}
    with tempfile.TemporaryDirectory(prefix="dns-bench.") as scratch:
        directory = Path(scratch)
        zone_file = directory / "zone.db"
        write_zone(zone_file, render_zone(snapshot, zone=ZONE, ttl=TTL, serial=1))
        hosts_file, srv_options = dnsmasq_records(snapshot, directory)
        queries = query_file(snapshot, directory)
        starters = {"orchestr": lambda: start_orchestr(zone_file),
                    "dnsmasq": lambda: start_dnsmasq(hosts_file, srv_options)}  # fmt: skip
        ports = {"orchestr": ORCHESTR_PORT, "dnsmasq": DNSMASQ_PORT}

        # The same answers from both, or the comparison means nothing.
        seen = {}
        for name, start in starters.items():
            process = start()
            try:
                seen[name] = answers(ports[name], queries)
            finally:
                stop(process)
        if seen["orchestr"] != seen["dnsmasq"]:
            differ = [q for q in seen["orchestr"] if seen["orchestr"][q] != seen["dnsmasq"].get(q)]
            raise SystemExit(f"the servers disagree on {differ[:5]}")
        say(f"both servers give the same answers to {len(seen['orchestr'])} queries")

        for round_ in range(options.rounds):
            # ABBA: neither server always runs first in a round (the load here drifts).
            order = ["orchestr", "dnsmasq"] if round_ % 2 == 0 else ["dnsmasq", "orchestr"]
            for name in order:
                process = starters[name]()
                try:
                    result = dnsperf(ports[name], queries, options.seconds, process)
                finally:
                    stop(process)
                runs[name].append(result)
                say(f"round {round_ + 1} {name}: {result['qps']:.0f} q/s, lost {result['lost']:.0f}"
                    f", avg latency {result['avg_latency_ms']} ms, server CPU "
                    f"{result['server_cpu_us_per_query']} us/query")  # fmt: skip

        reload = None
        if not options.no_reload_run:
            reload = reload_run(zone_file, options.services, queries, options.seconds)
            say(f"orchestr while reloading ({reload['reloads']} reloads): {reload['qps']:.0f} q/s, "
                f"lost {reload['lost']:.0f}, wrong answers {reload['wrong_answer_count']}")  # fmt: skip

    medians = {name: {key: statistics.median(r[key] for r in results)
                      for key in ("qps", "avg_latency_ms", "lost", "server_cpu_us_per_query")}
               for name, results in runs.items()}  # fmt: skip
    ratio = medians["orchestr"]["qps"] / medians["dnsmasq"]["qps"]
    cpu_ratio = (medians["orchestr"]["server_cpu_us_per_query"]
                 / max(medians["dnsmasq"]["server_cpu_us_per_query"], 0.01))  # fmt: skip
    lost = sum(r["lost"] for r in runs["orchestr"]) + (reload["lost"] if reload else 0)
    passed = (
        ratio >= TARGET_RATIO and lost == 0 and (not reload or not reload["wrong_answer_count"])
    )
    report = {
        "scenario": "dns",
        "started_utc": started.isoformat(),
        "finished_utc": datetime.now(UTC).isoformat(),
        "options": vars(options) | {"queries_per_service": ["A", "SRV"],
                                    "dnsperf_outstanding": OUTSTANDING},
        "machine": machine(),
        "versions": orchestr_versions() | {
            "dnsperf": tool_version(["dpkg-query", "-W", "-f", "${Version}", "dnsperf"]),
            "dnsmasq": tool_version(["dnsmasq", "--version"]),
        },
        "runs": runs,
        "medians": medians,
        "ratio_qps_orchestr_to_dnsmasq": round(ratio, 3),
        "ratio_cpu_per_query_orchestr_to_dnsmasq": round(cpu_ratio, 2),
        "orchestr_lost_total": lost,
        "reload_run": reload,
        "target": f">= {TARGET_RATIO}x dnsmasq's queries/s with 0 lost",
        "passed": passed,
    }  # fmt: skip
    RESULTS_DIR.mkdir(exist_ok=True)
    path = RESULTS_DIR / f"dns-{started.strftime('%Y%m%dT%H%M%SZ')}.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"orchestr {medians['orchestr']['qps']:.0f} q/s (avg {medians['orchestr']['avg_latency_ms']}"
          f" ms), dnsmasq {medians['dnsmasq']['qps']:.0f} q/s (avg "
          f"{medians['dnsmasq']['avg_latency_ms']} ms): ratio {ratio:.2f}, orchestr lost {lost:.0f}"
          f" -> {'PASS' if passed else 'FAIL'} ({path})")  # fmt: skip


if __name__ == "__main__":
    main()
