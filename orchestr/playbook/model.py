"""Playbooks as typed, frozen values: what the loader produces and the runner executes.

Values that may hold Jinja2 templates (`when`, module args, `loop`, vars...) are kept as the raw
YAML data; the runner renders them per host at the moment Ansible would.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from orchestr.errors import Location

EMPTY: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True)
class Task:
    """One task: a module call with its keywords."""

    name: str  # as written, or "" (the runner shows the module name then, as Ansible)
    module: str  # canonical short name: "copy", "docker_container", "include_tasks"...
    args: Mapping[
        str, Any
    ]  # module arguments, raw (may hold templates); free form under "_raw_params"
    location: Location
    when: tuple[Any, ...] = ()  # every condition must hold (a list in YAML means "and")
    loop: Any = None  # loop: / with_items: (raw; a template or a list)
    # loop_var, index_var, label, pause, extended
    loop_control: Mapping[str, Any] = field(default_factory=lambda: EMPTY)
    register: str | None = None
    notify: tuple[str, ...] = ()
    tags: frozenset[str] = frozenset()
    changed_when: tuple[Any, ...] | None = None
    failed_when: tuple[Any, ...] | None = None
    ignore_errors: Any = False
    until: tuple[Any, ...] | None = None
    retries: Any = 3
    delay: Any = 5
    delegate_to: Any = None
    run_once: Any = False
    become: Any = None
    become_user: Any = None
    check_mode: Any = None  # None: the run's --check; True/False: forced for this task
    diff: Any = None
    vars: Mapping[str, Any] = field(default_factory=lambda: EMPTY)
    environment: Any = None  # mapping or template
    listen: tuple[str, ...] = ()  # handlers only
    no_log: Any = False
    throttle: Any = None  # at most this many hosts run the task at once
    delegate_facts: Any = None  # with delegate_to: facts go to the delegated host
    remote_user: Any = None  # the SSH user (an ansible_user variable wins, as in Ansible)
    async_: Any = None  # `async:` seconds: the command runs in the background on the host
    poll: Any = None  # with async: seconds between checks; 0 fires and forgets
    # Where the task came from: a role name, so templates/ and files/ resolve in the role first.
    role: str | None = None
    role_path: str | None = None


@dataclass(frozen=True)
class Block:
    """block / rescue / always with the keywords they share (when, become, tags, vars...)."""

    block: tuple[TaskOrBlock, ...]
    rescue: tuple[TaskOrBlock, ...] = ()
    always: tuple[TaskOrBlock, ...] = ()
    location: Location = Location("")
    name: str = ""
    when: tuple[Any, ...] = ()
    tags: frozenset[str] = frozenset()
    become: Any = None
    become_user: Any = None
    vars: Mapping[str, Any] = field(default_factory=lambda: EMPTY)
    environment: Any = None
    ignore_errors: Any = False
    delegate_to: Any = None
    run_once: Any = False
    check_mode: Any = None
    no_log: Any = False
    notify: tuple[str, ...] = ()  # for each task of the block that has no notify of its own
    throttle: Any = None
    delegate_facts: Any = None
    remote_user: Any = None


TaskOrBlock = Task | Block


@dataclass(frozen=True)
class Play:
    name: str
    hosts: str  # a host pattern (a YAML list is joined with ",")
    location: Location
    vars: Mapping[str, Any] = field(default_factory=lambda: EMPTY)
    vars_files: tuple[Any, ...] = ()
    pre_tasks: tuple[TaskOrBlock, ...] = ()
    roles: tuple[RoleCall, ...] = ()
    tasks: tuple[TaskOrBlock, ...] = ()
    post_tasks: tuple[TaskOrBlock, ...] = ()
    handlers: tuple[Task, ...] = ()
    serial: tuple[Any, ...] = ()  # batch sizes: ints or "30%"; empty means all hosts at once
    max_fail_percentage: Any = None
    any_errors_fatal: Any = False
    gather_facts: Any = True
    # The implicit fact gathering's setup arguments, as Ansible passes them (None: not given).
    gather_subset: Any = None
    gather_timeout: Any = None
    fact_path: Any = None
    strategy: str = "linear"  # linear | free
    become: Any = None
    become_user: Any = None
    tags: frozenset[str] = frozenset()
    environment: Any = None
    check_mode: Any = None
    diff: Any = None
    remote_user: Any = None
    connection: Any = None  # ssh | local (an ansible_connection variable wins, as in Ansible)
    throttle: Any = None
    # vars_prompt entries: mappings with name, prompt, default, private, confirm...
    vars_prompt: tuple[Mapping[str, Any], ...] = ()
    # Directory of the playbook file the play comes from (relative paths resolve from it).
    base_dir: str = ""
    # Roles brought in by `import_role` (their tasks are already inline, tagged with the role):
    # their defaults, vars and handlers, which Ansible makes visible to the whole play.
    imported_roles: tuple[RoleCall, ...] = ()


@dataclass(frozen=True)
class RoleCall:
    """A role as a play uses it, already read from roles/NAME/."""

    name: str
    path: str
    location: Location
    tasks: tuple[TaskOrBlock, ...] = ()
    handlers: tuple[Task, ...] = ()
    defaults: Mapping[str, Any] = field(default_factory=lambda: EMPTY)  # below inventory vars
    vars: Mapping[str, Any] = field(default_factory=lambda: EMPTY)  # role vars/main.yml
    params: Mapping[str, Any] = field(
        default_factory=lambda: EMPTY
    )  # `- role: x` with `vars:` or inline params
    when: tuple[Any, ...] = ()
    tags: frozenset[str] = frozenset()


@dataclass(frozen=True)
class LoopWith:
    """A `with_<lookup>:` loop, kept apart from `loop:` because the lookup changes the items:
    with_items flattens one level, with_dict yields {key, value} pairs (dict2items), with_nested
    crosses lists... The runner templates `terms`, then applies the lookup. (`with_list` is
    exactly `loop:` and is loaded as such.)"""

    lookup: str  # "items", "dict", "indexed_items", "sequence"...
    terms: Any  # raw (may hold templates)


@dataclass(frozen=True)
class Playbook:
    """Every play of a playbook, imports (import_playbook) already expanded in order."""

    path: str
    plays: tuple[Play, ...] = field(default_factory=tuple)
