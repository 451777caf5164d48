"""setup and gather_facts: Ansible's facts of the host, gathered by one sh script in one round
trip (orchestr.playbook.facts). They only read, so they run in check mode too."""

from __future__ import annotations

from typing import Any

from orchestr.playbook.facts import DEFAULT_FACT_PATH, SubsetError, gather
from orchestr.playbook.facts.subsets import as_list, selected_ids
from orchestr.playbook.modules.base import Arg, ModuleContext, ModuleResult, module

SETUP_ARGS = {
    "gather_subset": Arg(type="list", default=["all"]),
    "gather_timeout": Arg(type="int", default=10),
    "filter": Arg(type="list", default=[]),
    "fact_path": Arg(type="path", default=DEFAULT_FACT_PATH),
}


def _literal_subset(args: dict[str, Any]) -> list[tuple[str, str, str]]:
    value = args.get("gather_subset")
    if value is None or "{{" in str(value) or "{%" in str(value):
        return []
    try:
        selected_ids(as_list(value))
    except (SubsetError, ValueError) as error:
        return [("gather_subset", str(error), "e.g. all, min, !hardware, network")]
    return []


async def _setup(args: dict[str, Any], ctx: ModuleContext) -> ModuleResult:
    try:
        gathered = await gather(ctx.run, args.get("gather_subset"), args.get("filter"),
                                args.get("gather_timeout"), args.get("fact_path"))  # fmt: skip
    except SubsetError as error:
        return ModuleResult(failed=True, msg=str(error))
    data: dict[str, Any] = {"ansible_facts": gathered.facts}
    if gathered.warnings:
        data["warnings"] = gathered.warnings
    return ModuleResult(data=data)


@module("setup", args=SETUP_ARGS, validate=_literal_subset)
async def setup(args: dict[str, Any], ctx: ModuleContext) -> ModuleResult:
    """ansible.builtin.setup: gather_subset, filter, gather_timeout, fact_path as Ansible's."""
    return await _setup(args, ctx)


@module("gather_facts", args={**SETUP_ARGS, "parallel": Arg(type="bool")},
        validate=_literal_subset)  # fmt: skip
async def gather_facts(args: dict[str, Any], ctx: ModuleContext) -> ModuleResult:
    """ansible.builtin.gather_facts (and a play's implicit "Gathering Facts"): setup's facts,
    marked as gathered (what `gathering: smart` looks at)."""
    result = await _setup(args, ctx)
    if not result.failed:
        result.data["ansible_facts"]["_ansible_facts_gathered"] = True
    return result
