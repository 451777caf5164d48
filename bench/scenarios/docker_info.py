"""docker-info: connect to every host of group `nodes` over SSH and run
`docker info --format '{{.ContainersRunning}}'`, checking host keys against the lab's
known_hosts. The same remote work for every contender; each one's output is checked to hold one
number per host, so a contender that "succeeds" without doing the work fails instead.

Contenders:
  orchestr        orchestr exec nodes -i INVENTORY --json -- docker info --format ...
  ansible-raw     ansible nodes -m raw (no Python on the hosts)
  ansible-command ansible nodes -m command (what people normally use; ships a module)
  pyinfra         pyinfra INVENTORY.py exec (inventory generated from the lab's)
  bare            bench/bare/ssh_run.py: asyncssh, one process; the floor
  bare-inproc     the same coroutine awaited inside the harness: no interpreter start-up or
                  imports, just the network and remote work (information only)
"""

from __future__ import annotations

from bench.harness import Contender
from bench.scenarios import Context, register
from bench.scenarios.common import (
    ANSIBLE_NUMBER,
    BARE_NUMBER,
    FORKS,
    NUMBER,
    PYINFRA_NUMBER,
    LabScenario,
    check_orchestr_json,
    check_pattern,
)

REMOTE = "docker info --format '{{.ContainersRunning}}'"
# What orchestr exec gets after `--`: several words, an argv (each word quoted on the host).
REMOTE_ARGV = ("docker", "info", "--format", "{{.ContainersRunning}}")


@register
class DockerInfo(LabScenario):
    name = "docker-info"
    summary = "ssh to every node, run docker info: orchestr vs ansible, pyinfra, bare asyncssh"
    default_hosts = 10
    needs_peers = True
    group = "nodes"

    def contenders(self, ctx: Context) -> list[Contender]:
        count = self.count
        return [
            Contender(
                "orchestr",
                self.orchestr_exec_argv(*REMOTE_ARGV, json_lines=True),
                check=check_orchestr_json(count, NUMBER),
            ),
            self.ansible(
                "raw", REMOTE, FORKS, check_pattern(count, ANSIBLE_NUMBER, "ansible -m raw")
            ),  # fmt: skip
            self.ansible(
                "command", REMOTE, FORKS, check_pattern(count, ANSIBLE_NUMBER, "ansible -m command")
            ),  # fmt: skip
            self.pyinfra(REMOTE, FORKS, check_pattern(count, PYINFRA_NUMBER, "pyinfra exec")),
            self.bare(REMOTE, check_pattern(count, BARE_NUMBER, "bare ssh_run.py")),
            self.bare_inproc(REMOTE),
        ]
