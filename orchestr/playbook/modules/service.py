"""`orchestr.cluster.service`: a declared service, placed and kept on the play's hosts.

It acts once per play (as `run_once`), with every host of the play as a candidate: observe
the whole cluster (every host the store knows, and these), reconcile the spec against what runs, then start, replace or remove replicas (rolling,
health-gated updates). `--check` shows the plan without acting; `--diff` adds the spec change.

Ansible's `service` (system services) keeps its name: this task is written
`orchestr.cluster.service:`, or `service:` in a play that lists `collections: [orchestr.cluster]`."""

from __future__ import annotations

from typing import Any

from orchestr.cluster.spec import ARGUMENTS, SpecError, parse_service
from orchestr.playbook.modules.base import (
    ORCHESTR_COLLECTION,
    Arg,
    ModuleContext,
    ModuleError,
    ModuleResult,
    module,
)

ARGS = {name: Arg(type=kind, required=name == "name") for name, kind in ARGUMENTS.items()}


def validate(args: dict[str, Any]) -> list[tuple[str, str, str]]:
    """Load-time check of a literal spec: (argument, problem, hint) for the loader to report."""
    try:
        parse_service(args)
    except SpecError as error:
        return [(error.field.split(".")[0].split("[")[0], str(error), error.hint)]
    return []


@module(f"{ORCHESTR_COLLECTION}.service", args=ARGS, run_once=True, validate=validate)
async def service(args: dict[str, Any], ctx: ModuleContext) -> ModuleResult:
    try:
        spec = parse_service(args, location=getattr(ctx, "location", ""))
    except SpecError as error:
        raise ModuleError(f"{error}" + (f" (hint: {error.hint})" if error.hint else "")) from None
    from orchestr.cluster.deploy import Change, converge

    cluster = ctx.cluster()
    stored = cluster.store.get_service(spec.name)  # before: the diff shows what this run changes
    done = await converge(cluster, [Change(spec, tuple(ctx.play_hosts))], check=ctx.check_mode)
    (report,) = done.reports
    data = {**report.as_data(), "published": [change.as_data() for change in done.published]}
    result = ModuleResult(changed=report.changed, failed=report.failed,
                          msg=report.message or (report.plan.summary() if report.plan else ""),
                          data=data)  # fmt: skip
    if ctx.diff and report.plan is not None:
        from orchestr.cluster.deploy import describe_spec
        from orchestr.cluster.spec import spec_from_dict

        before = describe_spec(spec_from_dict(stored.spec)) if stored else {}
        after = describe_spec(spec) if spec.state == "present" else {}
        if before != after:
            result.diff.append({"before": before, "after": after,
                                "before_header": f"service {spec.name} (applied)",
                                "after_header": f"service {spec.name} (wanted)"})  # fmt: skip
        lines = report.plan.lines()
        if lines:
            result.diff.append({"prepared": "\n".join(lines)})
    return result
