"""A play's implicit "Gathering Facts" task, as Ansible's play iterator adds it: the
gather_facts module with the play's gather_subset, gather_timeout and fact_path, the play's
become and environment, tagged `always` unless the play has tags of its own.

Facts are gathered again in every play that asks for them, as ansible-playbook does by
default (DEFAULT_GATHERING "implicit"): a later play sees what earlier plays changed (a new
interface, a mount, the time). With ANSIBLE_GATHERING=smart, as in Ansible, a host whose facts
were already gathered in this run is not asked again: the facts kept for the run are used.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from orchestr.playbook.model import Play, Task


def gathering_mode() -> str:
    return os.environ.get("ANSIBLE_GATHERING", "implicit").strip().lower() or "implicit"


def already_gathered(host_facts: Any) -> bool:
    gathered = host_facts.get("ansible_facts") or {}
    return bool(gathered.get("_ansible_facts_gathered"))


def gathering_task(play: Play) -> Task:
    args = {key: value for key in ("gather_subset", "gather_timeout", "fact_path")
            if (value := getattr(play, key, None)) is not None}  # fmt: skip
    tags = frozenset() if play.tags else frozenset({"always"})
    return Task(name="Gathering Facts", module="gather_facts", args=args,
                location=play.location, tags=tags)  # fmt: skip


async def gather_play_facts(run: Any, play: Play, scope: Any, hosts: list[Any]) -> None:
    """Run the implicit gathering on the batch's active hosts (`run` is the PlaybookRun)."""
    task = gathering_task(play)
    if not run.selected_by_tags(scope.tags | task.tags):
        return
    active = [state for state in hosts if state.active]
    if gathering_mode() == "smart":
        active = [state for state in active if not already_gathered(state.facts)]
    if not active:
        return
    run.console.event("task_start", name=task.name, hosts=len(active))
    await asyncio.gather(*(run.run_on_host(task, scope, state) for state in active))
    run.check_play_failure(active)
