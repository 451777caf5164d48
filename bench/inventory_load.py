"""Benchmark: load a 10,000-host, 200-group YAML inventory; compare with ansible-inventory.

Usage: python bench/inventory_load.py [--hosts 10000] [--groups 200] [--runs 7] [--no-ansible]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from orchestr.inventory import load_inventory


def write_inventory(root: Path, hosts: int, groups: int) -> Path:
    """200 leaf groups under 20 parents, hosts spread evenly, vars at every level."""
    parents = max(1, groups // 10)
    per_group = hosts // groups
    children: dict[str, dict] = {}
    for p in range(parents):
        children[f"region{p:02d}"] = {"vars": {"region": f"r{p}", "tier": "parent"}, "children": {}}
    number = 0
    for g in range(groups):
        leaf = {
            "vars": {"service": f"svc{g}", "tier": "leaf", "ansible_group_priority": 1 + g % 3},
            "hosts": {},
        }
        for _ in range(per_group):
            leaf["hosts"][f"host{number:05d}.example.com"] = {
                "ansible_host": f"10.{number // 65536}.{number // 256 % 256}.{number % 256}",
                "ansible_port": 22,
                "rack": number % 40,
            }
            number += 1
        children[f"region{g % parents:02d}"]["children"][f"svc{g:03d}"] = leaf
    data = {"all": {"vars": {"ansible_user": "deploy", "dns": ["1.1.1.1"]}, "children": children}}
    path = root / "inventory.yml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    (root / "group_vars").mkdir()
    (root / "group_vars" / "all.yml").write_text("ntp: time.example.com\n", encoding="utf-8")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--hosts", type=int, default=10_000)
    parser.add_argument("--groups", type=int, default=200)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--no-ansible", action="store_true", help="skip ansible-inventory")
    options = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="orchestr-bench-") as tmp:
        path = write_inventory(Path(tmp), options.hosts, options.groups)
        timings, cpu = [], []
        for _ in range(options.runs):
            start, start_cpu = time.perf_counter(), time.process_time()
            inventory = load_inventory([str(path)])
            timings.append(time.perf_counter() - start)
            cpu.append(time.process_time() - start_cpu)
        assert len(inventory.hosts) == options.hosts, len(inventory.hosts)
        median = statistics.median(timings)
        print(
            f"orchestr load_inventory: {len(inventory.hosts)} hosts, {len(inventory.groups)} groups: "
            f"median {median:.3f} s over {options.runs} runs "
            f"(min {min(timings):.3f} s, max {max(timings):.3f} s); "
            f"median CPU time {statistics.median(cpu):.3f} s"
        )

        ansible_inventory = shutil.which("ansible-inventory") or str(
            Path(sys.executable).parent / "ansible-inventory"
        )
        if not options.no_ansible and os.path.exists(ansible_inventory):
            env = {**os.environ, "ANSIBLE_NOCOLOR": "1", "ANSIBLE_LOCALHOST_WARNING": "False"}
            start = time.perf_counter()
            done = subprocess.run(
                [ansible_inventory, "-i", str(path), "--list"],
                capture_output=True,
                env=env,
                check=False,
            )
            elapsed = time.perf_counter() - start
            print(
                f"ansible-inventory --list (once, whole process incl. start-up and JSON output): "
                f"{elapsed:.3f} s (exit {done.returncode})"
            )
        print(f"target: under 1 s for orchestr; load average now {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
