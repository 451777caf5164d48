"""`orchestr scenario ...`: Molecule's test cycle for orchestr playbooks, on a lab of their own.

orchestr scenario test [NAME] [--all] [--keep] [--list]
orchestr scenario list
orchestr scenario create|converge|idempotence|verify|destroy|syntax [NAME]
orchestr scenario env [NAME]        # shell exports to use the scenario's lab by hand
"""

from __future__ import annotations

import os
import shlex
import time

import click

from orchestr.errors import EXIT_INTERRUPTED, OptionsError

DEFAULT_SCENARIO = "default"

name_argument = click.argument("name", default=DEFAULT_SCENARIO, metavar="[NAME]")
lab_option = click.option(
    "--lab",
    "lab_override",
    metavar="LAB",
    help="Run on this lab instead of the derived one ($ORCHESTR_TEST_LAB-NAME, else "
    "molecule-NAME).",
)
project_option = click.option(
    "--project-dir",
    type=click.Path(file_okay=False, exists=True),
    help="The project holding molecule/ (default: the working directory or the nearest "
    "parent with one).",
)


def _prepare(name: str, lab_override: str | None, project_dir: str | None):  # noqa: ANN202
    from orchestr.scenario.model import lab_name
    from orchestr.scenario.runner import ScenarioRun, find_project, load_scenario

    project = find_project(project_dir)
    scenario = load_scenario(project, name)
    lab = lab_name(scenario.name, os.environ.get("ORCHESTR_TEST_LAB"), lab_override)
    return ScenarioRun(scenario, lab, project)


@click.group()
def scenario() -> None:
    """Molecule-style scenarios (molecule/NAME/molecule.yml): a lab made for the playbooks,
    converge, a second converge that must change nothing, verify, destroy."""


@scenario.command()
@click.argument("names", nargs=-1, metavar="[NAME]...")
@click.option("--all", "run_all", is_flag=True, help="Every scenario under molecule/.")
@click.option("--keep", is_flag=True, help="Leave the lab up at the end, passed or failed.")
@click.option("--list", "list_only", is_flag=True, help="Show what would run; run nothing.")
@lab_option
@project_option
def test(names: tuple[str, ...], run_all: bool, keep: bool, list_only: bool,
         lab_override: str | None, project_dir: str | None) -> None:  # fmt: skip
    """Run the test sequence of scenario NAME (default: default): destroy, syntax, create,
    prepare, converge, idempotence, verify, destroy. The lab is destroyed at the end, and when
    a step fails, unless --keep. Exit 0 only when every step of every scenario passed."""
    from orchestr.scenario.model import lab_name
    from orchestr.scenario.runner import (
        ScenarioRun,
        exit_code,
        find_project,
        load_scenario,
        scenario_names,
        summary_line,
    )

    project = find_project(project_dir)
    if run_all and names:
        raise OptionsError("give scenario names or --all, not both")
    chosen = scenario_names(project) if run_all else list(names or (DEFAULT_SCENARIO,))
    if not chosen:
        raise OptionsError(f"no scenarios under {project / 'molecule'}",
                           hint="each is molecule/NAME/molecule.yml")  # fmt: skip
    if lab_override and len(chosen) > 1:
        raise OptionsError("--lab names one lab: give one scenario with it")
    # Every scenario is read and checked before any lab is touched.
    scenarios = [load_scenario(project, name) for name in chosen]
    prefix = os.environ.get("ORCHESTR_TEST_LAB")
    labs = [lab_name(s.name, prefix, lab_override) for s in scenarios]
    if list_only:
        for item, lab in zip(scenarios, labs, strict=True):
            click.echo(f"{item.name}: lab {lab} ({_shape(item)}); "
                       f"sequence: {', '.join(item.test_sequence)}")  # fmt: skip
        return
    started = time.monotonic()
    summaries: list[str] = []
    codes: list[int] = []
    for item, lab in zip(scenarios, labs, strict=True):
        run = ScenarioRun(item, lab, project)
        click.echo(f"--> {item.name} scenario test matrix: {', '.join(item.test_sequence)}")
        try:
            results = run.run(item.test_sequence, destroy_on_failure=True, keep=keep)
        except KeyboardInterrupt:
            click.echo(f"--> Scenario {item.name}: interrupted")
            raise SystemExit(EXIT_INTERRUPTED) from None
        summaries.append(summary_line(item.name, results))
        codes.append(exit_code(results))
        click.echo(summaries[-1])
        if keep:
            click.echo(f"--> lab {lab!r} kept: `orchestr scenario destroy {item.name}"
                       f"{' --lab ' + lab if lab_override else ''}` removes it")  # fmt: skip
    if len(scenarios) > 1:
        passed = sum(1 for code in codes if code == 0)
        click.echo("")
        for line in summaries:
            click.echo(line)
        click.echo(f"--> {len(scenarios)} scenarios: {passed} passed, {len(scenarios) - passed} "
                   f"failed in {time.monotonic() - started:.1f} s")  # fmt: skip
    failed = [code for code in codes if code]
    raise SystemExit(failed[0] if failed else 0)


@scenario.command(name="list")
@project_option
def list_command(project_dir: str | None) -> None:
    """The scenarios under molecule/: lab, hosts, whether created/converged, test sequence."""
    from orchestr.scenario.model import lab_name
    from orchestr.scenario.runner import RunFiles, RunState, find_project, load_scenario
    from orchestr.scenario.runner import scenario_names as names_of

    project = find_project(project_dir)
    rows = [("scenario", "lab", "hosts", "state", "test sequence")]
    for name in names_of(project):
        item = load_scenario(project, name)
        lab = lab_name(item.name, os.environ.get("ORCHESTR_TEST_LAB"))
        state = RunState.read(RunFiles.of(lab), item.name, lab)
        status = (
            "converged" if state.converged else "created" if state.created else "not created"
        )  # fmt: skip
        rows.append((item.name, lab, _shape(item), status, ", ".join(item.test_sequence)))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row[:4], widths, strict=True)]
        click.echo("  ".join([*cells, row[4]]))


def _shape(item) -> str:  # noqa: ANN001
    return f"{item.nodes} node{'s' if item.nodes != 1 else ''}" + (" + lb1" if item.lb else "")


def _step_command(command_name: str, actions: tuple[str, ...], help_text: str) -> None:
    @scenario.command(name=command_name, help=help_text)
    @name_argument
    @lab_option
    @project_option
    def command(name: str, lab_override: str | None, project_dir: str | None) -> None:
        from orchestr.scenario.runner import exit_code

        run = _prepare(name, lab_override, project_dir)
        try:
            results = run.run(actions)
        except KeyboardInterrupt:
            raise SystemExit(EXIT_INTERRUPTED) from None
        raise SystemExit(exit_code(results))


# Molecule's sub-commands and the actions each runs (create and prepare are skipped when done).
for _name, _actions, _help in (
    ("create", ("create", "prepare"),
     "Make the scenario's lab: hosts, demo images on them, `orchestr dns serve` on a free port."),
    ("converge", ("create", "prepare", "converge"),
     "Create the lab when needed, then apply the converge playbook."),
    ("idempotence", ("idempotence",),
     "Apply the converge playbook again: passes only when no host reports a change."),
    ("verify", ("verify",), "Apply the verify playbook (assertions) to the created lab."),
    ("side-effect", ("side_effect",), "Apply the side_effect playbook, when the scenario has one."),
    ("destroy", ("destroy",),
     "Stop the run's DNS server and background processes, remove the lab and the run's files."),
    ("syntax", ("syntax",), "Load and check the scenario's playbooks; touch nothing."),
):  # fmt: skip
    _step_command(_name, _actions, _help)


@scenario.command(name="env")
@name_argument
@lab_option
@project_option
def env_command(name: str, lab_override: str | None, project_dir: str | None) -> None:
    """Print `export` lines pointing orchestr at the scenario's lab, store, zone file and
    inventory: `eval "$(orchestr scenario env)"; orchestr status`."""
    run = _prepare(name, lab_override, project_dir)
    if not run.state.created:
        from orchestr.errors import EnvironmentProblem

        raise EnvironmentProblem(
            f"scenario {name!r} has no lab {run.lab!r} created",
            hint=f"orchestr scenario create {name}"
            + (f" --lab {lab_override}" if lab_override else ""),
        )
    for key, value in run.exports():
        click.echo(f"export {key}={shlex.quote(value)}")
