"""Run a loaded playbook on hosts, with Ansible's meaning: batches, strategies, blocks, loops,
conditions, handlers, registers, facts, check and diff; over one pooled connection per host."""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from orchestr.errors import OrchestrError
from orchestr.inventory import Host, Inventory
from orchestr.playbook import plugins
from orchestr.playbook.lookups import LOOP_LOOKUPS, loop_lookup
from orchestr.playbook.loops import LoopError, loop_items
from orchestr.playbook.model import Block, LoopWith, Play, Playbook, RoleCall, Task, TaskOrBlock
from orchestr.playbook.modules.base import (
    ModuleError,
    ModuleResult,
    as_bool,
    lookup,
    normalize_args,
)
from orchestr.playbook.output import Console, Stats
from orchestr.playbook.templar import OMIT, LayeredVars, RenderedLayer, Templar, TemplateError
from orchestr.transport.base import Connection, Result, Unreachable
from orchestr.transport.command import Become, Command, Shell
from orchestr.transport.pool import Pool
from orchestr.transport.settings import LOCALHOSTS, ConnectionSettings, inventory_settings

NO_LOG_MESSAGE = (
    "the output has been hidden due to the fact that 'no_log: true' was specified for this result"
)


@dataclass(frozen=True)
class RunOptions:
    check: bool = False
    diff: bool = False
    limit: str | None = None
    extra_vars: Mapping[str, Any] = field(default_factory=dict)
    tags: frozenset[str] = frozenset()
    skip_tags: frozenset[str] = frozenset()
    start_at_task: str | None = None
    # The cluster handle for `service` tasks (orchestr.cluster.world.Cluster), built once by
    # the caller; the engine hands it to modules and knows nothing else of the cluster.
    cluster: Any = None


@dataclass(frozen=True)
class Scope:
    """Keywords a task inherits from the plays, roles and blocks around it."""

    when: tuple[Any, ...] = ()
    tags: frozenset[str] = frozenset()
    vars: tuple[Mapping[str, Any], ...] = ()
    become: Any = None
    become_user: Any = None
    environment: tuple[Any, ...] = ()
    ignore_errors: Any = None
    delegate_to: Any = None
    run_once: Any = None
    check_mode: Any = None
    notify: tuple[str, ...] = ()  # a block's notify, for its tasks that have none
    throttle: Any = None
    delegate_facts: Any = None
    remote_user: Any = None
    role: RoleCall | None = None
    # Inside a block's `block:` that has a rescue: a failure there is the rescue's to handle,
    # so any_errors_fatal and max_fail_percentage wait for the block's outcome.
    rescuable: bool = False

    def inside(self, block: Block) -> Scope:
        return replace(
            self,
            when=self.when + block.when,
            tags=self.tags | block.tags,
            vars=(*self.vars, block.vars) if block.vars else self.vars,
            become=block.become if block.become is not None else self.become,
            become_user=block.become_user or self.become_user,
            environment=(*self.environment, block.environment)
            if block.environment
            else self.environment,
            ignore_errors=block.ignore_errors or self.ignore_errors,
            delegate_to=block.delegate_to or self.delegate_to,
            run_once=block.run_once or self.run_once,
            check_mode=block.check_mode if block.check_mode is not None else self.check_mode,
            notify=block.notify or self.notify,
            throttle=block.throttle if block.throttle is not None else self.throttle,
            delegate_facts=block.delegate_facts
            if block.delegate_facts is not None
            else self.delegate_facts,
            remote_user=block.remote_user or self.remote_user,
        )


@dataclass
class HostState:
    host: Host
    # set_fact, register, gathered facts: values already rendered, never templated again (a
    # registered stdout holding "{{" is data, as Ansible's unsafe results are).
    facts: dict[str, Any] = field(default_factory=RenderedLayer)
    failed: bool = False
    unreachable: bool = False
    ended: bool = False  # meta: end_host
    notified: list[str] = field(default_factory=list)

    @property
    def active(self) -> bool:
        return not (self.failed or self.unreachable or self.ended)


def tags_selected(tags: frozenset[str], wanted: frozenset[str], skipped: frozenset[str]) -> bool:
    """--tags / --skip-tags as Ansible applies them to a task's tags (always, never, all)."""
    if skipped and (tags & skipped or ("all" in skipped and "always" not in tags)):
        return False
    if "never" in tags and not (tags & (wanted - {"all"})):
        return False
    if not wanted or "all" in wanted:
        return True
    return bool(tags & wanted) or "always" in tags


class PlayAborted(Exception):
    """any_errors_fatal or max_fail_percentage stopped the play."""


class PlaybookRun:
    def __init__(self, playbook: Playbook, inventory: Inventory, pool: Pool,
                 options: RunOptions, console: Console):  # fmt: skip
        self.playbook = playbook
        self.inventory = inventory
        self.pool = pool
        self.options = options
        self.console = console
        self.stats: dict[str, Stats] = {}
        self.states: dict[str, HostState] = {}
        self._started = options.start_at_task is None
        # As ansible-playbook: no later play runs once a play was aborted (any_errors_fatal,
        # max_fail_percentage) or a whole batch of hosts failed.
        self.stopped = False

    # ---------------------------------------------------------------- plays and batches

    async def run(self) -> dict[str, Stats]:
        # filter_plugins/ and test_plugins/ of the playbook and its roles, for the whole run.
        with plugins.active(plugins.for_playbook(self.playbook)):
            for play in self.playbook.plays:
                await self.run_play(play)
                if self.stopped:
                    break
        # As Ansible: the recap lists the hosts something was counted for.
        counted = {name: s for name, s in self.stats.items() if any(s.as_dict().values())}
        self.console.event("recap", stats=counted)
        return self.stats

    async def run_play(self, play: Play) -> None:
        if play.vars_prompt:
            play = replace(play, vars={**play.vars, **self.prompt_vars(play)})
        self.play = play
        # include_role at run time, with the scope it ran in: their handlers may be notified.
        self.included_roles: list[tuple[RoleCall, Scope]] = []
        self.vars_files_data = self._read_vars_files(play)
        pattern = self.play_pattern(play)
        selection = self.inventory.select(pattern, self.options.limit)
        for warning in selection.warnings:
            self.console.event("warning", message=warning)
        self.console.event(
            "play_start", name=play.name or pattern, hosts=[h.name for h in selection]
        )
        hosts = [h for h in selection if not self._lost(h.name)]
        if not hosts:
            self.console.event("no_hosts")
            return
        for host in hosts:
            self.stats.setdefault(host.name, Stats())
            state = self.states.setdefault(host.name, HostState(host))
            state.ended = False  # meta: end_host lasts one play; a failure lasts the run
            state.notified = []
        self.play_hosts_all = [h.name for h in hosts]
        for batch in batches(self.play_hosts_all, play.serial):
            self.batch = batch
            try:
                await self.run_batch(play, [self.states[name] for name in batch])
            except PlayAborted:
                # any_errors_fatal / max_fail_percentage: every host of the play is done for the
                # rest of the run ("NO MORE HOSTS LEFT"), without counting a failure for it.
                for name in self.play_hosts_all:
                    self.states[name].failed = True
                self.stopped = True
                return
            if not any(self._counts(self.states[name]) for name in batch):
                self.stopped = True  # every host of the batch failed: the run ends here
                return

    def prompt_vars(self, play: Play) -> dict[str, Any]:
        """vars_prompt as ansible-playbook does it: a variable given with -e is not asked; with
        no terminal, nothing is asked and the default (else None) is the value."""
        import sys

        import click

        templar = Templar(LayeredVars([play.vars, self.options.extra_vars]))
        values: dict[str, Any] = {}
        for entry in templar.render([dict(e) for e in play.vars_prompt]):
            name = entry["name"]
            if name in self.options.extra_vars:
                continue
            default = entry.get("default")
            result = None
            if sys.stdin is not None and sys.stdin.isatty():
                prompt = entry.get("prompt") or f"input for {name}"
                private = as_bool(entry.get("private", True))
                text = f"{prompt} [{default}]: " if default is not None else f"{prompt}: "
                while True:
                    result = click.prompt(text, default="", hide_input=private,
                                          show_default=False, prompt_suffix="", err=True)  # fmt: skip
                    if not as_bool(entry.get("confirm", False)):
                        break
                    again = click.prompt("confirm " + text, default="", hide_input=private,
                                         show_default=False, prompt_suffix="", err=True)  # fmt: skip
                    if again == result:
                        break
                    click.echo("***** VALUES ENTERED DO NOT MATCH ****", err=True)
            elif not getattr(self, "_not_prompting", False):  # Ansible shows a warning once
                self._not_prompting = True
                message = "Not prompting as we are not in interactive mode"
                self.console.event("warning", message=message)
            values[name] = default if not result and default is not None else result
        return values

    def _counts(self, state: HostState) -> bool:
        """Still in the run: not failed nor unreachable (a host that ended itself counts)."""
        return not (state.failed or state.unreachable)

    def play_pattern(self, play: Play) -> str:
        """The play's `hosts:`, templated as Ansible does with the play's and extra vars."""
        if "{" not in play.hosts:
            return play.hosts
        layers = [self.play.vars, *self.vars_files_data, self.options.extra_vars]
        try:
            rendered = Templar(LayeredVars(layers)).render(play.hosts)
        except TemplateError as error:
            raise OrchestrError(
                f"hosts: {error}",
                location=play.location,
                hint="the play's hosts may use extra vars and play vars",
            ) from None
        return ",".join(rendered) if isinstance(rendered, list) else str(rendered)

    def _lost(self, name: str) -> bool:
        """As Ansible: a host that failed or was unreachable takes no part in later plays."""
        state = self.states.get(name)
        return bool(state and (state.unreachable or state.failed))

    async def run_batch(self, play: Play, hosts: list[HostState]) -> None:
        scope = Scope(tags=play.tags, become=play.become, become_user=play.become_user,
                      environment=(play.environment,) if play.environment else (),
                      check_mode=play.check_mode)  # fmt: skip
        self.batch_size = len(hosts)
        if as_bool(self.render_plain(play.gather_facts, hosts[0])):
            await self.gather_facts(hosts, scope)
        await self.run_section(play.pre_tasks, scope, hosts)
        await self.flush_handlers(hosts)
        seen_roles: set[str] = set()
        for role in play.roles:
            # As Ansible: a role listed twice with the same parameters runs once per play.
            identity = f"{role.name}:{sorted(role.params.items())!r}"
            if identity in seen_roles:
                continue
            seen_roles.add(identity)
            role_scope = replace(scope, role=role, when=scope.when + role.when,
                                 tags=scope.tags | role.tags,
                                 vars=(*scope.vars, role.vars, role.params))  # fmt: skip
            await self.run_section(role.tasks, role_scope, hosts)
        await self.run_section(play.tasks, scope, hosts)
        await self.flush_handlers(hosts)
        await self.run_section(play.post_tasks, scope, hosts)
        await self.flush_handlers(hosts)

    async def run_section(
        self, items: Sequence[TaskOrBlock], scope: Scope, hosts: list[HostState]
    ) -> None:
        if self.play.strategy == "free":
            await asyncio.gather(*(self.run_items(items, scope, [h]) for h in hosts))
        else:
            await self.run_items(items, scope, hosts)

    # ---------------------------------------------------------------- task tree

    async def run_items(
        self, items: Sequence[TaskOrBlock], scope: Scope, hosts: list[HostState]
    ) -> None:
        for item in items:
            if isinstance(item, Block):
                await self.run_block(item, scope, hosts)
            else:
                await self.run_task(item, scope, hosts)

    async def run_block(self, block: Block, scope: Scope, hosts: list[HostState]) -> None:
        inner = scope.inside(block)
        entered = [h for h in hosts if h.active]
        if not entered:
            return
        failed_before = {h.host.name for h in entered if h.failed}
        protected = replace(inner, rescuable=True) if block.rescue else inner
        await self.run_items(block.block, protected, entered)
        failed_in_block = [h for h in entered if h.failed and h.host.name not in failed_before]
        if block.rescue and failed_in_block:
            for state in failed_in_block:
                state.failed = False
                self.stats[state.host.name].rescued += 1
                self.stats[state.host.name].failed -= 1
            rescuers = failed_in_block
            if as_bool(self.play.any_errors_fatal):
                # As Ansible: a fatal error sends every host of the block to the rescue (only
                # the failed ones count as rescued).
                rescuers = [h for h in entered if h.active]
            await self.run_items(block.rescue, inner, rescuers)
        if block.always:
            # always runs for every host that entered the block, failed or not
            still_failed = [h for h in entered if h.failed]
            for state in still_failed:
                state.failed = False
            await self.run_items(
                block.always, inner, [h for h in entered if not h.unreachable and not h.ended]
            )
            for state in still_failed:
                state.failed = True
        if not scope.rescuable:
            self.check_play_failure(entered)

    def check_play_failure(self, hosts: list[HostState]) -> None:
        failed = [h for h in hosts if h.failed or h.unreachable]
        if not failed:
            return
        if as_bool(self.play.any_errors_fatal):
            raise PlayAborted()
        if self.play.max_fail_percentage is not None:
            limit = float(str(self.play.max_fail_percentage).rstrip("%"))
            if 100.0 * len(failed) / max(1, self.batch_size) > limit:
                raise PlayAborted()

    # ---------------------------------------------------------------- one task on many hosts

    def selected_by_tags(self, tags: frozenset[str]) -> bool:
        return tags_selected(tags, self.options.tags, self.options.skip_tags)

    async def run_task(
        self, task: Task, scope: Scope, hosts: list[HostState], *, handler: bool = False
    ) -> None:
        tags = scope.tags | task.tags
        if not handler and not self.selected_by_tags(tags):
            return
        if not self._started:
            if task.name != self.options.start_at_task:
                return
            self._started = True
        active = [h for h in hosts if h.active]
        if not active:
            return
        if task.module == "meta":
            await self.run_meta(task, scope, active)
            return
        if task.module in ("include_tasks", "import_tasks", "include_role", "import_role"):
            await self.run_include(task, scope, active)
            return
        self.console.event("task_start", name=self.display_name(task, scope, active[0]),
                           handler=handler, hosts=len(active))  # fmt: skip
        run_once = as_bool(self.render_plain(task.run_once or scope.run_once or False, active[0]))
        spec = lookup(task.module)
        if run_once or (spec is not None and spec.run_once):
            first = active[0]
            outcome = await self.run_on_host(task, scope, first)
            for state in active[1:]:
                self.apply_shared_result(task, state, outcome)
                # As Ansible: a failed run_once task fails every host of the play (counted
                # once, on the host that ran it).
                state.failed = state.failed or first.failed
        else:
            throttle = task.throttle if task.throttle is not None else scope.throttle
            if throttle is None:
                throttle = self.play.throttle
            limit = int(self.render_plain(throttle, active[0]) or 0) if throttle is not None else 0
            if limit > 0:  # as Ansible: at most `throttle` hosts run the task at once
                gate = asyncio.Semaphore(limit)

                async def throttled(state: HostState) -> Any:
                    async with gate:
                        return await self.run_on_host(task, scope, state)

                await asyncio.gather(*(throttled(state) for state in active))
            else:
                await asyncio.gather(*(self.run_on_host(task, scope, state) for state in active))
        if not scope.rescuable:
            self.check_play_failure(hosts)

    def display_name(self, task: Task, scope: Scope, state: HostState) -> str:
        """The name Ansible shows: templated when it can be, prefixed with the role's name."""
        name = task.name or task.module
        if "{" in name:
            with contextlib.suppress(TemplateError):  # as Ansible: shown raw when it cannot render
                name = str(Templar(self.host_variables(state, task, scope)).render(name))
        role = task_role(task, scope, self.play)
        role_name = role.name if role else task.role
        return f"{role_name} : {name}" if role_name else name

    def apply_shared_result(
        self, task: Task, state: HostState, registered: dict[str, Any] | None
    ) -> None:
        """run_once: the other hosts get the same registered result and facts."""
        if registered is None:
            return
        if task.register:
            state.facts[task.register] = registered
        facts = registered.get("ansible_facts")
        if task.module == "set_fact" and isinstance(facts, Mapping):
            state.facts.update(facts)

    async def run_on_host(
        self, task: Task, scope: Scope, state: HostState
    ) -> dict[str, Any] | None:
        name = state.host.name
        stats = self.stats[name]
        try:
            variables = self.host_variables(state, task, scope)
            templar = Templar(variables, search_paths=self.search_paths(task, scope),
                              check_mode=self.check_mode_for(task, scope, state))  # fmt: skip
            if task.loop is None:
                delegated = templar.render(task.delegate_to or scope.delegate_to)
                if not templar.truth(scope.when + task.when):
                    stats.skipped += 1
                    self.console.event("host_result", host=name, status="skipping", task=task.name)
                    registered = {
                        "changed": False,
                        "skipped": True,
                        "skip_reason": "Conditional result was False",
                    }
                    if task.register:
                        state.facts[task.register] = registered
                    return registered
                registered = await self.run_module_with_retries(
                    task, scope, state, templar, delegated
                )
                ok = self.report(task, scope, state, templar, registered, None, delegated)
            else:
                registered, ok = await self.run_loop(task, scope, state, templar)
            if task.register:
                state.facts[task.register] = registered
            notify = task.notify or scope.notify
            if ok and registered.get("changed") and notify:
                for handler_name in templar.render(list(notify)):
                    if handler_name not in state.notified:
                        state.notified.append(handler_name)
            return registered
        except Unreachable as error:
            state.unreachable = True
            stats.unreachable += 1
            self.console.event("host_result", host=name, status="unreachable",
                               result={"msg": error.one_line(), "unreachable": True, "changed": False})  # fmt: skip
            return None
        except TemplateError as error:
            state.failed = True
            stats.failed += 1
            self.console.event("host_result", host=name, status="failed",
                               result={"msg": f"{task.location}: {error}", "changed": False})  # fmt: skip
            return None

    def loop_scopes(self, task: Task, templar: Templar) -> list[tuple[Any, dict[str, Any], Any]]:
        """(item, extra variables, label) for each item of a task's loop."""
        if isinstance(task.loop, LoopWith) and task.loop.lookup in LOOP_LOOKUPS:
            items = loop_lookup(templar, task.loop.lookup, task.loop.terms, task.module)
        elif isinstance(task.loop, LoopWith):
            try:
                items = loop_items(
                    task.loop.lookup, templar.render(task.loop.terms), self.play.base_dir
                )
            except LoopError as error:
                raise TemplateError(str(error)) from None
        else:
            items = templar.render(task.loop)
        if isinstance(items, str) or not isinstance(items, Sequence | Mapping):
            raise TemplateError(
                f"Invalid data passed to 'loop', it requires a list, got this instead: {items!r}"
            )
        control = dict(task.loop_control)
        # The label may use the loop variable: it is rendered per item, the rest now.
        label_template = control.pop("label", None)
        control = templar.render(control)
        loop_var = control.get("loop_var", "item")
        index_var = control.get("index_var")
        scopes = []
        for index, item in enumerate(list(items)):
            extra = {loop_var: item, "ansible_loop_var": loop_var}
            if index_var:
                extra[index_var] = index
            label = templar.child(extra).render(label_template) if label_template else item
            scopes.append((item, extra, label))
        return scopes

    async def run_loop(self, task: Task, scope: Scope, state: HostState,
                       templar: Templar) -> tuple[dict[str, Any], bool]:  # fmt: skip
        results = []
        all_ok = True
        for item, extra, label in self.loop_scopes(task, templar):
            loop_var = extra["ansible_loop_var"]
            item_templar = templar.child(extra)
            # As Ansible: delegate_to may name the loop item, so it is rendered per item.
            delegated = item_templar.render(task.delegate_to or scope.delegate_to)
            if not item_templar.truth(scope.when + task.when):
                results.append({"changed": False, "skipped": True, loop_var: item, "item": item,
                                "skip_reason": "Conditional result was False"})  # fmt: skip
                self.console.event(
                    "host_result", host=state.host.name, status="skipping", item=label
                )
                continue
            registered = await self.run_module_with_retries(
                task, scope, state, item_templar, delegated
            )
            registered[loop_var] = item
            registered.setdefault("item", item)
            registered["ansible_loop_var"] = loop_var
            # As Ansible: a failed item does not stop the loop; the task fails at the end.
            ok = self.report(
                task, scope, state, item_templar, registered, label, delegated, count=False
            )
            all_ok = all_ok and ok
            results.append(registered)
        ran = [r for r in results if not r.get("skipped")]
        summary: dict[str, Any] = {
            "results": results,
            "changed": any(r.get("changed") for r in ran),
            "msg": "All items completed" if all_ok else "One or more items failed",
            "skipped": bool(results) and not ran,
        }
        if not all_ok:
            summary["failed"] = True
        if not results:  # an empty loop (with_first_found's skip: true...): a skipped task
            summary = {"changed": False, "results": [], "skipped": True,
                       "skipped_reason": "No items in the list"}  # fmt: skip
        self.count_loop(state, summary, all_ok, task, scope, templar)
        return summary, all_ok

    def count_loop(self, state: HostState, summary: dict, all_ok: bool, task: Task, scope: Scope,
                   templar: Templar) -> None:  # fmt: skip
        stats = self.stats[state.host.name]
        if summary["skipped"] or not summary["results"]:
            stats.skipped += 1
        elif not all_ok:
            if self.ignoring(task, scope, templar):
                stats.ignored += 1
                stats.ok += 1
                if summary["changed"]:
                    stats.changed += 1
            else:
                stats.failed += 1
                state.failed = True
                self.remember_failure(state, task, summary)
        else:
            stats.ok += 1
            if summary["changed"]:
                stats.changed += 1

    @staticmethod
    def remember_failure(state: HostState, task: Task, registered: Mapping[str, Any]) -> None:
        """What a rescue section sees: ansible_failed_task and ansible_failed_result."""
        state.facts["ansible_failed_task"] = {
            "name": task.name, "action": task.module, "args": dict(task.args),
        }  # fmt: skip
        state.facts["ansible_failed_result"] = dict(registered)

    def ignoring(self, task: Task, scope: Scope, templar: Templar) -> bool:
        return as_bool(templar.render(task.ignore_errors or scope.ignore_errors or False))

    def report(self, task: Task, scope: Scope, state: HostState, templar: Templar,
               registered: dict[str, Any], item: Any, delegated: Any, count: bool = True) -> bool:  # fmt: skip
        """Print one result and count it; returns whether the task succeeded on this host."""
        stats = self.stats[state.host.name]
        name = state.host.name
        failed = bool(registered.get("failed"))
        diff = registered.pop("_diff", None)
        if not self.diff_for(task, scope, templar):
            diff = None
        show = task.module == "debug"
        shown = {k: v for k, v in registered.items() if not k.startswith("_")}
        if as_bool(templar.render(task.no_log)):
            shown = {"censored": NO_LOG_MESSAGE, "changed": bool(registered.get("changed"))}
            diff = None
        if registered.get("skipped"):
            if count:
                stats.skipped += 1
            self.console.event("host_result", host=name, status="skipping", item=item,
                               result=shown if show else None)  # fmt: skip
            return True
        if failed:
            ignored = self.ignoring(task, scope, templar)
            self.console.event("host_result", host=name, status="failed", item=item, result=shown,
                               delegated=delegated, ignored=ignored and count, diff=diff)  # fmt: skip
            if count:
                if ignored:
                    stats.ignored += 1
                    stats.ok += 1
                    if registered.get("changed"):
                        stats.changed += 1
                else:
                    stats.failed += 1
                    state.failed = True
                    self.remember_failure(state, task, registered)
            return False
        status = "changed" if registered.get("changed") else "ok"
        if count:
            stats.ok += 1
            if status == "changed":
                stats.changed += 1
        if show:
            shown = {k: v for k, v in shown.items() if k not in ("changed", "failed")}
        self.console.event("host_result", host=name, status=status, item=item,
                           result=shown if show else None, delegated=delegated, diff=diff,
                           show=show, registered=shown)  # fmt: skip
        return True

    # ---------------------------------------------------------------- a module on a host

    async def run_module_with_retries(self, task: Task, scope: Scope, state: HostState,
                                      templar: Templar, delegated: Any) -> dict[str, Any]:  # fmt: skip
        attempts = 1
        if task.until:
            attempts = int(templar.render(task.retries)) + 1 if task.retries is not None else 4
        delay = float(templar.render(task.delay)) if task.until else 0.0
        registered: dict[str, Any] = {}
        for attempt in range(1, attempts + 1):
            registered = await self.run_module(task, scope, state, templar, delegated)
            if not task.until:
                break
            # A result is final: `{{` in its output is text, never a template (Ansible).
            check = templar.child(
                RenderedLayer({task.register: registered} if task.register else {})
            )
            registered["attempts"] = attempt
            if not registered.get("failed") and check.truth(task.until):
                break
            if attempt == attempts:
                registered["failed"] = True
                registered["attempts"] = attempts - 1  # what Ansible reports when retries run out
                registered.setdefault("msg", "Retries exhausted")
                break
            self.console.event("retrying", host=state.host.name, task=task.name or task.module,
                               left=attempts - attempt)  # fmt: skip
            await asyncio.sleep(delay)
        return registered

    async def run_module(self, task: Task, scope: Scope, state: HostState, templar: Templar,
                         delegated: Any) -> dict[str, Any]:  # fmt: skip
        spec = lookup(task.module)
        if spec is None:  # the loader refuses unknown modules; an include may still bring one
            return {"failed": True, "changed": False, "msg": f"unknown module {task.module!r}"}
        args = templar.render(dict(task.args))  # the templar already drops omitted entries
        args = normalize_args(spec, args)
        check_mode = self.check_mode_for(task, scope, state)
        context = HostContext(self, task, scope, state, templar, delegated, check_mode,
                              self.diff_for(task, scope, templar))  # fmt: skip
        try:
            seconds = int(templar.render(task.async_) or 0) if task.async_ is not None else 0
            if seconds > 0 and not check_mode:  # in check mode the module decides, as Ansible's
                from orchestr.playbook.modules.async_status import run_async

                poll = int(templar.render(task.poll)) if task.poll is not None else 15
                result = await run_async(spec.name, args, context, seconds, poll)
            else:
                result = await spec.run(args, context)
        except ModuleError as error:
            result = ModuleResult(failed=True, msg=str(error))
        except TemplateError:
            raise
        except Unreachable:
            raise
        registered = result.registered()
        for warning in registered.get("warnings") or ():
            self.console.event("warning", message=f"{state.host.name}: {warning}")
        if result.diff:
            registered["_diff"] = result.diff
        facts = registered.get("ansible_facts")
        if isinstance(facts, Mapping) and not registered.get("failed"):
            state = self.facts_target(task, scope, state, templar, delegated)
            if task.module in ("set_fact", "include_vars"):
                state.facts.update(facts)
            else:  # gathered facts: under ansible_facts, and as variables (Ansible's default)
                from orchestr.playbook.facts import store_facts

                store_facts(state.facts, facts)
        return self.apply_conditions(task, templar, registered)

    def facts_target(self, task: Task, scope: Scope, state: HostState, templar: Templar,
                     delegated: Any) -> HostState:  # fmt: skip
        """Whose facts a result sets: the delegated host's with delegate_facts (Ansible)."""
        wanted = task.delegate_facts if task.delegate_facts is not None else scope.delegate_facts
        if not delegated or not as_bool(templar.render(wanted or False)):
            return state
        name = str(delegated)
        if name not in self.states:
            host = self.inventory.hosts.get(name)
            if host is None:
                return state
            self.states[name] = HostState(host)
        return self.states[name]

    def apply_conditions(
        self, task: Task, templar: Templar, registered: dict[str, Any]
    ) -> dict[str, Any]:
        """changed_when / failed_when, evaluated with the result under its register name."""
        if task.changed_when is None and task.failed_when is None:
            return registered
        # A result is final: `{{` in its output is text, never a template (Ansible).
        check = templar.child(RenderedLayer({task.register: registered} if task.register else {}))
        if task.changed_when is not None:
            registered["changed"] = check.truth(task.changed_when)
        if task.failed_when is not None:
            failed = check.truth(task.failed_when)
            registered["failed"] = failed
            if failed:
                registered.setdefault("msg", "failed_when matched")
            elif registered.get("msg") == "non-zero return code":
                del registered["msg"]
        return registered

    # ---------------------------------------------------------------- variables

    def host_variables(self, state: HostState, task: Task, scope: Scope) -> LayeredVars:
        role = task_role(task, scope, self.play)
        layers: list[Mapping[str, Any]] = []
        if role is not None:
            layers.append(role.defaults)
        layers.append(state.host.vars)
        layers.append(self.play.vars)
        layers.extend(self.vars_files_for(state))
        if role is not None:
            layers += [role.vars, role.params]
        layers.extend(scope.vars)
        layers.append(task.vars)
        layers.append(state.facts)
        layers.append(self.options.extra_vars)
        layers.append(self.magic_variables(state, role))
        return LayeredVars(layers)

    def magic_variables(self, state: HostState, role: RoleCall | None) -> dict[str, Any]:
        inventory = self.inventory
        name = state.host.name
        active = [
            n
            for n in self.play_hosts_all
            if not self.states[n].unreachable and not self.states[n].failed
        ]
        return {
            "inventory_hostname": name,
            "inventory_hostname_short": name.split(".")[0],
            "group_names": [g for g in state.host.group_names if g != "ungrouped"],
            "groups": GroupsView(inventory),
            "hostvars": HostVarsView(self),
            "ansible_play_hosts": active,
            "ansible_play_hosts_all": list(self.play_hosts_all),
            "ansible_play_batch": [n for n in self.batch if self.states[n].active],
            "play_hosts": active,
            "ansible_check_mode": self.options.check,
            "ansible_diff_mode": self.options.diff,
            "ansible_facts": state.facts.get("ansible_facts", {}),
            "omit": OMIT,
            "ansible_managed": "Ansible managed",  # Ansible's default text, for templates
            "playbook_dir": self.play.base_dir,
            "inventory_file": os.path.abspath(state.host.source) if state.host.source else None,
            "inventory_dir": os.path.dirname(os.path.abspath(state.host.source))
            if state.host.source
            else None,
            "role_name": role.name if role else None,
            "role_path": role.path if role else None,
            "ansible_version": {"full": "2.19.0", "major": 2, "minor": 19, "string": "2.19.0"},
        }

    def render_plain(self, value: Any, state: HostState) -> Any:
        """A play-level keyword rendered with the host's inventory and play variables."""
        if not isinstance(value, str):
            return value
        layers = [state.host.vars, self.play.vars, *self.vars_files_data, self.options.extra_vars,
                  self.magic_variables(state, None)]  # fmt: skip
        return Templar(LayeredVars(layers)).render(value)

    def _read_vars_files(
        self, play: Play, state: HostState | None = None
    ) -> list[Mapping[str, Any]]:
        """vars_files as Ansible reads them: each entry templated (with the host's variables and
        facts when a host is given, else the play's and extra vars), a list entry meaning the
        first of its files that exists, a file not found skipped, as is an entry that cannot be
        templated without a host."""
        # The inventory's reader: Ansible's YAML rules, vault-encrypted files and !vault values.
        from orchestr.inventory.yaml_loader import load_data_text, read_text

        if state is None:
            layers = [play.vars, self.options.extra_vars]
        else:
            layers = [state.host.vars, play.vars, state.facts, self.options.extra_vars,
                      self.magic_variables(state, None)]  # fmt: skip
        templar = Templar(LayeredVars(layers))
        cache = self.__dict__.setdefault("_vars_file_cache", {})
        data = []
        for entry in play.vars_files:
            try:
                choices = entry if isinstance(entry, list) else [entry]
                names = [str(templar.render(choice)) for choice in choices]
            except TemplateError:
                continue
            for name in names:
                path = name if os.path.isabs(name) else os.path.join(play.base_dir, name)
                if path not in cache:
                    if not os.path.isfile(path):
                        continue
                    loaded = load_data_text(read_text(path), path)[0] or {}
                    if not isinstance(loaded, Mapping):
                        raise TemplateError(f"vars file {path} must hold a mapping")
                    cache[path] = loaded
                data.append(cache[path])
                break
        return data

    def vars_files_for(self, state: HostState) -> list[Mapping[str, Any]]:
        """The play's vars_files as this host reads them (entries may use its vars and facts)."""
        if not any("{" in str(entry) for entry in self.play.vars_files):
            return self.vars_files_data
        return self._read_vars_files(self.play, state)

    def search_paths(self, task: Task, scope: Scope) -> list[str]:
        role = task_role(task, scope, self.play)
        paths = [role.path] if role else []
        # Ansible's ansible_search_path: the role, the task file's folder, the playbook's.
        here = os.path.dirname(task.location.path) if task.location.path else ""
        if here and here not in paths and here != self.play.base_dir:
            paths.append(here)
        return [*paths, self.play.base_dir]

    def check_mode_for(self, task: Task, scope: Scope, state: HostState) -> bool:
        forced = task.check_mode if task.check_mode is not None else scope.check_mode
        if forced is not None:
            return as_bool(self.render_plain(forced, state))
        return self.options.check

    def diff_for(self, task: Task, scope: Scope, templar: Templar) -> bool:
        forced = task.diff if task.diff is not None else self.play.diff
        return as_bool(templar.render(forced)) if forced is not None else self.options.diff

    # ---------------------------------------------------------------- facts, handlers, meta

    async def gather_facts(self, hosts: list[HostState], scope: Scope) -> None:
        """The play's implicit "Gathering Facts" (orchestr.playbook.facts.gathering)."""
        from orchestr.playbook.facts.gathering import gather_play_facts

        await gather_play_facts(self, self.play, scope, hosts)

    async def flush_handlers(self, hosts: list[HostState]) -> None:
        """Run the notified handlers, in the order they are defined. A role listed twice (or
        included again) brings its handlers again: as in Ansible, the last definition of a
        name wins, and it runs with the variables of the role instance that brought it."""
        sources: list[tuple[Task, Scope]] = [(h, Scope()) for h in self.play.handlers]
        for role in (*self.play.roles, *self.play.imported_roles):
            role_scope = Scope(role=role, vars=(role.vars, role.params))
            sources += [(h, role_scope) for h in role.handlers]
        for role, role_scope in self.included_roles:
            sources += [(h, role_scope) for h in role.handlers]
        handlers: dict[tuple[str | None, str], tuple[Task, Scope]] = {}
        for handler, scope in sources:
            handlers[(handler.role, handler.name)] = (handler, scope)
        for handler, scope in handlers.values():
            names = {handler.name, *handler.listen}
            due = [h for h in hosts if h.active and names & set(h.notified)]
            if due:
                await self.run_task(handler, scope, due, handler=True)
        for state in hosts:
            state.notified = []

    async def run_meta(self, task: Task, scope: Scope, hosts: list[HostState]) -> None:
        action = str(task.args.get("_raw_params", "")).strip()
        if action == "flush_handlers":
            await self.flush_handlers(hosts)
        elif action == "end_play":
            for state in self.states.values():
                state.ended = True
        elif action == "end_host":
            for state in hosts:
                templar = Templar(self.host_variables(state, task, scope))
                if templar.truth(scope.when + task.when):
                    state.ended = True
        elif action == "clear_host_errors":
            for state in self.states.values():
                state.failed = False
        # noop, refresh_inventory, clear_facts: nothing to do here

    async def run_include(self, task: Task, scope: Scope, hosts: list[HostState]) -> None:
        """include_tasks / include_role, once per loop item, with the item's variables visible
        inside. Hosts that include the same file with the same variables run it together, so
        the play keeps its linear pace. Each include counts as ok for its host, as in Ansible."""
        from orchestr.playbook.loader import load_role, load_task_file, resolve_task_file

        self.console.event("task_start", name=self.display_name(task, scope, hosts[0]))
        groups: dict[tuple[str, str], tuple[list[HostState], dict[str, Any], str, Any]] = {}
        for state in hosts:
            templar = Templar(self.host_variables(state, task, scope))
            scopes = (
                self.loop_scopes(task, templar) if task.loop is not None else [(None, {}, None)]
            )
            for _, extra, label in scopes:
                item_templar = templar.child(extra) if extra else templar
                if not item_templar.truth(scope.when + task.when):
                    self.stats[state.host.name].skipped += 1
                    self.console.event("host_result", host=state.host.name, status="skipping",
                                       item=label if extra else None)  # fmt: skip
                    continue
                args = item_templar.render(dict(task.args))
                target = str(args.get("file") or args.get("name") or args.get("_raw_params") or "")
                tasks_from = str(args.get("tasks_from") or "main").removesuffix(".yml")
                key = (target, repr(sorted(extra.items(), key=lambda kv: kv[0])))
                groups.setdefault(key, ([], extra, tasks_from, label))[0].append(state)
        for (target, _), (members, extra, tasks_from, label) in groups.items():
            for member in members:
                self.stats[member.host.name].ok += 1
            names = [m.host.name for m in members]
            inner = replace(scope, tags=scope.tags | task.tags,
                            vars=(*scope.vars, task.vars, extra))  # fmt: skip
            if task.module in ("include_role", "import_role"):
                role = load_role(target, self.play.base_dir, tasks_from=tasks_from)
                plugins.add_role(role.path)
                self.console.event("included", path=target, hosts=names, item=label)
                role_scope = replace(inner, role=role, vars=(*inner.vars, role.vars, role.params))
                self.included_roles.append((role, role_scope))
                await self.run_items(role.tasks, role_scope, members)
                continue
            role = task_role(task, scope, self.play)
            path = resolve_task_file(target, task, self.play.base_dir) or target
            self.console.event("included", path=path, hosts=names, item=label)
            await self.run_items(load_task_file(path, role), inner, members)


def task_role(task: Task, scope: Scope, play: Play | None = None) -> RoleCall | None:
    """The role a task belongs to: the `roles:` entry being run, or the role an import_role
    brought its tasks from (they sit inline among the play's tasks)."""
    if scope.role is not None:
        return scope.role
    if task.role and play is not None:
        for role in (*play.imported_roles, *play.roles):
            if role.name == task.role:
                return role
    return None


def batches(hosts: list[str], serial: Sequence[Any]) -> list[list[str]]:
    """Serial batches as Ansible cuts them: sizes (int or "N%" of the play's hosts) in order,
    the last size repeating; no serial means one batch (pure)."""
    if not serial:
        return [list(hosts)] if hosts else []
    sizes = []
    for entry in serial:
        text = str(entry).strip()
        if text.endswith("%"):
            size = int(math.floor(len(hosts) * float(text[:-1]) / 100.0))
        else:
            size = int(text)
        sizes.append(max(1, size) if size >= 0 else len(hosts))
    result, index, step = [], 0, 0
    while index < len(hosts):
        size = sizes[min(step, len(sizes) - 1)] or len(hosts)
        result.append(hosts[index : index + size])
        index += size
        step += 1
    return result


class GroupsView(Mapping):
    """`groups`: group name -> host names (descendants included), as Ansible gives it."""

    def __init__(self, inventory: Inventory):
        self._inventory = inventory

    def __getitem__(self, name: str) -> list[str]:
        if name not in self._inventory.groups:
            raise KeyError(name)
        return [h.name for h in self._inventory.group_hosts(name)]

    def __iter__(self):
        return iter(self._inventory.groups)

    def __len__(self) -> int:
        return len(self._inventory.groups)


class HostVarsView(Mapping):
    """`hostvars[name]`: another host's variables as this play sees them, read lazily."""

    def __init__(self, run: PlaybookRun):
        self._run = run

    def __getitem__(self, name: str) -> Mapping[str, Any]:
        run = self._run
        host = run.inventory.hosts.get(name)
        if host is None:
            raise KeyError(name)
        state = run.states.get(name) or HostState(host)
        layers = [host.vars, run.play.vars, *run.vars_files_data, state.facts, run.options.extra_vars,
                  {"inventory_hostname": name, "group_names": list(host.group_names)}]  # fmt: skip
        return LayeredVars(layers)

    def __iter__(self):
        return iter(self._run.inventory.hosts)

    def __len__(self) -> int:
        return len(self._run.inventory.hosts)


class HostContext:
    """What a module sees of the run for one host and task (the ModuleContext contract)."""

    def __init__(self, run: PlaybookRun, task: Task, scope: Scope, state: HostState,
                 templar: Templar, delegated: Any, check_mode: bool, diff: bool):  # fmt: skip
        self._run = run
        self._task = task
        self._scope = scope
        self._templar = templar
        self._delegated = str(delegated) if delegated else None
        self.host = state.host.name
        self.location = task.location
        self.check_mode = check_mode
        self.diff = diff
        self.verbosity = run.console.verbosity
        self.variables = templar.variables

    async def connection(self) -> Connection:
        target = self._delegated or self.host
        pool = self._run.pool
        if target not in pool.settings:
            pool.settings[target] = inventory_settings(target, self._run.inventory)
        return await pool.connection_for(self.connection_settings(target, pool.settings[target]))

    def connection_settings(self, target: str, base: ConnectionSettings) -> ConnectionSettings:
        """The host's settings with the remote_user and connection keywords applied. As in
        Ansible, the ansible_user / ansible_connection variables win over the keywords; a
        delegated host's come from its own inventory vars and the extra vars."""
        run, task, scope, templar = self._run, self._task, self._scope, self._templar
        host = run.inventory.hosts.get(target)
        if self._delegated:
            variables: Mapping[str, Any] = {**(host.vars if host else {}), **run.options.extra_vars}
        else:
            variables = templar.variables

        def variable(*names: str) -> Any:
            for name in names:
                value = variables.get(name)
                if value not in (None, ""):
                    return templar.render(value)
            return None

        changes: dict[str, Any] = {}
        user = variable("ansible_user", "ansible_ssh_user")
        if user is None:
            user = task.remote_user or scope.remote_user or run.play.remote_user
        if user not in (None, "") and str(templar.render(user)) != base.user:
            changes["user"] = str(templar.render(user))
        kind = variable("ansible_connection")
        implicit_local = host is None and target in LOCALHOSTS
        if kind is None and not implicit_local:
            kind = run.play.connection
        if kind not in (None, "") and str(templar.render(kind)) != base.connection:
            changes["connection"] = str(templar.render(kind))
        return replace(base, **changes) if changes else base

    def _become(self) -> bool | Become | None:
        task, scope = self._task, self._scope
        wanted = task.become if task.become is not None else scope.become
        user = task.become_user or scope.become_user
        if wanted is None and not user:
            return None
        if wanted is not None and not as_bool(self._templar.render(wanted)):
            return False
        if user:
            return Become(user=str(self._templar.render(user)))
        return True

    def _environment(self) -> dict[str, str]:
        merged: dict[str, str] = {}
        for entry in (*self._scope.environment, self._task.environment):
            if entry:
                rendered = self._templar.render(entry)
                if isinstance(rendered, Mapping):
                    merged.update({str(k): str(v) for k, v in rendered.items() if v is not OMIT})
        return merged

    def _with_environment(self, command: Command | str | list[str]) -> Command | str | list[str]:
        environment = self._environment()
        if not environment:
            return command
        from orchestr.transport.command import as_command

        exports = " ".join(f"export {k}={shlex.quote(v)};" for k, v in environment.items())
        return Command((Shell(exports), *as_command(command).parts))

    async def run(self, command: Command | str | list[str], *, stdin: Any = None,
                  timeout: float | None = None) -> Result:  # fmt: skip
        conn = await self.connection()
        return await conn.run(self._with_environment(command), stdin=stdin,
                              timeout=timeout or 3600, become=self._become())  # fmt: skip

    async def put(self, data: bytes, remote_path: str, mode: int = 0o644) -> None:
        from orchestr.transport.base import put_command

        result = await self.run(put_command(remote_path, mode), stdin=data)
        if not result.ok:
            raise ModuleError(f"cannot write {remote_path}: {result.stderr.strip()}")

    def find_file(self, kind: str, name: str) -> str:
        if os.path.isabs(name):
            if os.path.exists(name):
                return name
            raise ModuleError(f"could not find {name}")
        role = task_role(self._task, self._scope, self._run.play)
        candidates = []
        if role is not None:
            candidates += [os.path.join(role.path, kind, name), os.path.join(role.path, name)]
        base = self._run.play.base_dir
        candidates += [os.path.join(base, kind, name), os.path.join(base, name)]
        for path in candidates:
            if os.path.exists(path):
                return path
        raise ModuleError(f"could not find {name} in {', '.join(candidates)}")

    def render_template(self, text: str, extra: Mapping[str, Any] | None = None,
                        *, trim_blocks: bool = True, lstrip_blocks: bool = False) -> str:  # fmt: skip
        templar = self._templar.child(dict(extra)) if extra else self._templar
        return templar.render_file_text(text, trim_blocks=trim_blocks, lstrip_blocks=lstrip_blocks)

    def evaluate(self, condition: Any) -> Any:
        return self._templar.evaluate(condition)

    @property
    def play_hosts(self) -> list[str]:
        """The play's hosts still in it (Ansible's ansible_play_hosts): not failed, reachable."""
        run = self._run
        return [name for name in run.play_hosts_all
                if not ((state := run.states.get(name)) and (state.failed or state.unreachable))]  # fmt: skip

    def cluster(self) -> Any:
        """The run's cluster handle, its commands escalated as this task's are."""
        handle = self._run.options.cluster
        if handle is None:
            raise ModuleError("this run has no cluster: service tasks need `orchestr apply`")
        return handle.using(become=self._become())

    async def push_image(self, image: str) -> dict[str, Any]:
        from orchestr.images.push import push_image

        target = self._delegated or self.host
        (outcome,) = await push_image(self._run.pool, [target], image)
        if outcome.error is not None:
            if isinstance(outcome.error, Unreachable):
                raise outcome.error
            raise ModuleError(str(outcome.error))
        pushed = outcome.value
        return {"changed": not pushed.skipped, "layers_sent": pushed.layers_sent,
                "layers_total": pushed.layers_total, "bytes_sent": pushed.bytes_sent,
                "image_id": pushed.image_id}  # fmt: skip
