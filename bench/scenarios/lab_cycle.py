"""lab-cycle: how long `orchestr lab up` takes from nothing, and `orchestr lab down` after it.

Each round runs `lab up --hosts N --lb --name bench` then `lab down --name bench`, timed
separately. orchestr only: no peer brings up such a lab. The warm-up round absorbs one-off work
(building the host image the first time on a machine)."""

from __future__ import annotations

import subprocess

from bench import lab
from bench.harness import Contender
from bench.scenarios import Context, Scenario, register


def _printed_inventory(done: subprocess.CompletedProcess) -> str | None:
    lines = done.stdout.strip().splitlines()
    if not lines or not lines[-1].endswith("inventory.yml"):
        return "last line of stdout is not the inventory path"
    return None


def _nothing_left(_: subprocess.CompletedProcess) -> str | None:
    return "hosts still listed after lab down" if lab.lab_status() else None


@register
class LabCycle(Scenario):
    name = "lab-cycle"
    summary = "orchestr lab up --hosts N --lb, then lab down (orchestr only, timed separately)"
    default_hosts = 3
    baseline = None
    floor = None
    rotate = False  # up must come before down in every round

    def setup(self, ctx: Context) -> None:
        lab.lab_down(ctx.say)  # start from nothing, whatever an earlier scenario left

    def contenders(self, ctx: Context) -> list[Contender]:
        return [
            Contender("lab up", lab.up_argv(ctx.hosts, lb=True), check=_printed_inventory),
            Contender("lab down", lab.down_argv(), check=_nothing_left),
        ]

    def teardown(self, ctx: Context) -> None:
        lab.lab_down(ctx.say)
