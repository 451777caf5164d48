"""exec: run `docker ps -q` on every host of the lab (pattern `all`), the ad-hoc command every
tool has. The lab runs no containers, so the command prints nothing: each contender's output is
checked for one success line per host (its exit status), not for a value.

Contenders (forks = the host count, so every host goes at once):
  orchestr        orchestr exec all -i INVENTORY -- docker ps -q
  ansible-command ansible all -i INVENTORY -m command -a 'docker ps -q' -f N
  ansible-raw     the same with -m raw (no Python module shipped)
  pyinfra         pyinfra -y --parallel N INVENTORY.py exec -- docker ps -q
  bare            bench/bare/ssh_run.py: asyncssh, one process; the floor
  bare-inproc     the same coroutine awaited inside the harness (information only)
"""

from __future__ import annotations

from bench.harness import Contender
from bench.scenarios import Context, register
from bench.scenarios.common import (
    ANSIBLE_OK,
    BARE_OK,
    PYINFRA_OK,
    LabScenario,
    check_pattern,
)

REMOTE = "docker ps -q"


@register
class Exec(LabScenario):
    name = "exec"
    summary = "orchestr exec all -- docker ps -q vs ansible command/raw, pyinfra exec, bare"
    default_hosts = 20
    needs_peers = True
    group = "all"

    def contenders(self, ctx: Context) -> list[Contender]:
        count = self.count
        forks = count
        return [
            Contender(
                "orchestr",
                self.orchestr_exec_argv(*REMOTE.split(" ")),
                check=check_pattern(count, ANSIBLE_OK, "orchestr exec"),
            ),
            self.ansible(
                "command", REMOTE, forks, check_pattern(count, ANSIBLE_OK, "ansible -m command")
            ),  # fmt: skip
            self.ansible(
                "raw", REMOTE, forks, check_pattern(count, ANSIBLE_OK, "ansible -m raw")
            ),  # fmt: skip
            self.pyinfra(REMOTE, forks, check_pattern(count, PYINFRA_OK, "pyinfra exec")),
            self.bare(REMOTE, check_pattern(count, BARE_OK, "bare ssh_run.py")),
            self.bare_inproc(REMOTE),
        ]
