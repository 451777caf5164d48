"""Benchmark: the scheduler placing 10,000 replicas over 1,000 hosts, as one service and as 100
services of 100 replicas placed one after another (each seeing the usage the previous left),
with and without placement preferences. Prints the median of several runs per case.

Usage: python bench/scheduler_bench.py [--hosts 1000] [--replicas 10000] [--services 100] [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

from orchestr.cluster.constraints import parse_constraint
from orchestr.cluster.model import HostUsage, HostView, Resources
from orchestr.cluster.scheduler import PlacementRequest, place
from orchestr.cluster.spec_types import PortSpec

PREFERENCES = ("zone", "rack")


def make_hosts(count: int) -> list[HostView]:
    """Hosts in 5 zones of 10 racks each, roomy enough that every case places every replica."""
    return [
        HostView(
            f"host{number:05d}",
            {
                "zone": f"z{number % 5}",
                "rack": f"r{number % 50}",
                "group_names": ["docker", f"tier{number % 3}"],
                "facts": {"os_id": "ubuntu", "docker_version": "24.0.7"},
            },
            Resources(cpus=64, memory_mb=262_144),
        )
        for number in range(count)
    ]


def request(
    service: str, count: int, preferences: tuple[str, ...], strategy: str
) -> PlacementRequest:
    return PlacementRequest(
        service=service,
        count=count,
        resources=Resources(cpus=0.05, memory_mb=64),
        ports=(PortSpec(8080, published_range=(30000, 32767)),),
        constraints=(
            parse_constraint("facts.os_id == ubuntu"),
            parse_constraint("facts.docker_version >= 20.10"),
        ),
        preferences=preferences,
        strategy=strategy,
    )


def one_service(hosts: list[HostView], replicas: int, preferences: tuple[str, ...], strategy: str):
    def run() -> None:
        placement = place(request("api", replicas, preferences, strategy), hosts, {})
        assert placement.unplaced == 0, placement.message

    return run


def many_services(
    hosts: list[HostView], services: int, replicas: int, preferences: tuple[str, ...], strategy: str
):
    per_service = replicas // services

    def run() -> None:
        usage: dict[str, HostUsage] = {}
        for number in range(services):
            placement = place(
                request(f"svc{number}", per_service, preferences, strategy), hosts, usage
            )
            assert placement.unplaced == 0, placement.message
            usage = placement.usage

    return run


def median_seconds(run: Callable[[], None], runs: int) -> tuple[float, float]:
    """Median wall time and median CPU time of this process: on a shared machine the CPU time
    shows the scheduler's own cost when the wall time also counts waiting for a core."""
    walls, cpus = [], []
    for _ in range(runs):
        wall, cpu = time.perf_counter(), time.process_time()
        run()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=1000)
    parser.add_argument("--replicas", type=int, default=10_000)
    parser.add_argument("--services", type=int, default=100)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    hosts = make_hosts(args.hosts)
    print(
        f"{args.replicas} replicas over {args.hosts} hosts, median of {args.runs} runs (wall, cpu)"
    )
    for strategy in ("spread", "binpack", "random"):
        for preferences in ((), PREFERENCES):
            prefs = "spread=" + ",".join(preferences) if preferences else "no preferences"
            cases = {
                "1 service": one_service(hosts, args.replicas, preferences, strategy),
                f"{args.services} services": many_services(
                    hosts, args.services, args.replicas, preferences, strategy
                ),
            }
            for name, run in cases.items():
                wall, cpu = median_seconds(run, args.runs)
                print(
                    f"  {strategy:8} {name:13} {prefs:22} {wall * 1000:8.1f} ms {cpu * 1000:8.1f} ms"
                )


if __name__ == "__main__":
    main()
