"""What a module is: a name, the arguments it takes, and an async function of (args, context)
that observes the host, decides (purely), acts unless in check mode, and says what changed."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from orchestr.transport.base import Input, Result
from orchestr.transport.command import Command

# Prefixes operators write in front of module names; all resolve to the short name.
PREFIXES = ("ansible.builtin.", "ansible.legacy.", "community.docker.", "community.general.",
            "ansible.posix.")  # fmt: skip


@dataclass(frozen=True)
class Arg:
    """One module argument, as the loader validates it before any host is touched."""

    type: str = "str"  # str | int | float | bool | list | dict | path | raw
    required: bool = False
    default: Any = None
    choices: tuple[Any, ...] = ()
    aliases: tuple[str, ...] = ()
    secret: bool = False  # never shown in output (no_log for this argument)


@dataclass
class ModuleResult:
    """What a module did on one host, in Ansible's terms."""

    changed: bool = False
    failed: bool = False
    skipped: bool = False
    msg: str = ""
    # [{"before": ..., "after": ..., "before_header": ..., "after_header": ...}] as Ansible
    diff: list[dict[str, Any]] = field(default_factory=list)
    # Module-specific return values (rc, stdout, stat, path, container...): what `register` sees.
    data: dict[str, Any] = field(default_factory=dict)

    def registered(self) -> dict[str, Any]:
        """The registered variable, shaped as Ansible's (changed, failed, msg, rc, stdout_lines...)."""
        value: dict[str, Any] = dict(self.data)
        value["changed"] = self.changed
        value["failed"] = self.failed
        if self.skipped:
            value["skipped"] = True
        if self.msg:
            value["msg"] = self.msg
        for stream in ("stdout", "stderr"):
            if stream in value and f"{stream}_lines" not in value:
                value[f"{stream}_lines"] = str(value[stream]).splitlines()
        return value


class ModuleContext(Protocol):
    """What a module may use. The runner provides it per host and task."""

    host: str  # inventory name of the host the task runs for
    check_mode: bool
    diff: bool
    verbosity: int  # -v count (debug's verbosity argument)
    variables: Mapping[str, Any]  # the host's variables (templated lazily on access)

    async def run(
        self,
        command: Command | str | list[str],
        *,
        stdin: Input = None,
        timeout: float | None = None,
    ) -> Result:
        """Run on the target host (delegate_to aware) with the task's become and environment."""
        ...

    async def put(self, data: bytes, remote_path: str, mode: int = 0o644) -> None:
        """Write a file atomically on the target host (with the task's become)."""
        ...

    def find_file(self, kind: str, name: str) -> str:
        """Local path of a `src` for copy (kind "files") or template ("templates"): in the role's
        folder first, then beside the playbook; raises ModuleError when not found."""
        ...

    def evaluate(self, condition: Any) -> Any:
        """A bare Jinja2 expression (as in `when:`) evaluated with the host's variables (assert)."""
        ...

    def render_template(
        self, text: str, extra: Mapping[str, Any] | None = None,
        *, trim_blocks: bool = True, lstrip_blocks: bool = False,
    ) -> str:  # fmt: skip
        """Render Jinja2 text with the host's variables (the template module, lookups)."""
        ...

    async def push_image(self, image: str) -> dict[str, Any]:
        """Ship a controller image to the target host as `orchestr image push` does."""
        ...

    @property
    def play_hosts(self) -> list[str]:
        """The play's hosts still in it (Ansible's ansible_play_hosts)."""
        ...

    def cluster(self) -> Any:
        """The run's cluster handle (orchestr.cluster.world.Cluster), its commands escalated as
        this task's are: connections, the store (locked for this run) and discovery."""
        ...


class ModuleError(Exception):
    """A module could not do its job on this host: the task fails with this message."""


RunFunction = Callable[[dict[str, Any], ModuleContext], Awaitable[ModuleResult]]


@dataclass(frozen=True)
class Module:
    name: str
    run: RunFunction
    args: Mapping[str, Arg] = field(default_factory=dict)
    # command/shell/raw take a free-form string (`shell: echo hi`), stored as args["_raw_params"].
    free_form: bool = False
    # debug, set_fact, assert, fail, pause... decide on the controller without a connection.
    local: bool = False
    # Ansible's "bypass host loop": runs once for the play (pause, meta...).
    run_once: bool = False
    # Takes keys of the user's choosing besides its declared ones (set_fact).
    any_args: bool = False
    # A deeper load-time check of literal arguments: (argument, problem, hint) per problem.
    validate: Callable[[dict[str, Any]], list[tuple[str, str, str]]] | None = None


REGISTRY: dict[str, Module] = {}


def module(
    name: str,
    *,
    args: Mapping[str, Arg] | None = None,
    free_form: bool = False,
    local: bool = False,
    run_once: bool = False,
    any_args: bool = False,
    validate: Callable[[dict[str, Any]], list[tuple[str, str, str]]] | None = None,
) -> Callable[[RunFunction], RunFunction]:
    """Register a module under its short name (a registry, not an if-chain)."""

    def register(function: RunFunction) -> RunFunction:
        REGISTRY[name] = Module(
            name, function, dict(args or {}), free_form, local, run_once, any_args, validate
        )
        return function

    return register


# orchestr's own tasks live in a collection of their own, so Ansible's names stay Ansible's.
ORCHESTR_COLLECTION = "orchestr.cluster"


def canonical_name(name: str) -> str:
    for prefix in PREFIXES:
        if name.startswith(prefix):
            return name[len(prefix) :]
    return name


def resolve(name: str, collections: tuple[str, ...] = ()) -> str:
    """The registry name a task's module key means, by Ansible's lookup rule: a full name is
    itself (ansible.builtin.x is x); a short name is looked up in the collections the play
    lists, in order, then among Ansible's own (ansible.builtin, ansible.legacy)."""
    load_all()
    if "." in name:
        return name if name in REGISTRY else canonical_name(name)
    for collection in collections:
        if f"{collection}.{name}" in REGISTRY:
            return f"{collection}.{name}"
    return name


def lookup(name: str) -> Module | None:
    load_all()
    return REGISTRY.get(resolve(name))


_LOADED: list[bool] = []  # a module file may be imported on its own first: not a full load


def load_all() -> None:
    """Import every module file once, so each registers itself."""
    if _LOADED:
        return
    import importlib
    import pkgutil

    import orchestr.playbook.modules as package

    for info in pkgutil.iter_modules(package.__path__):
        if info.name not in ("base",):
            importlib.import_module(f"{package.__name__}.{info.name}")
    _LOADED.append(True)


def normalize_args(spec: Module, raw: Mapping[str, Any]) -> dict[str, Any]:
    """Aliases to canonical names and defaults filled in (values already templated)."""
    names = {alias: name for name, arg in spec.args.items() for alias in arg.aliases}
    args: dict[str, Any] = {}
    for key, value in raw.items():
        args[names.get(key, key)] = value
    for name, arg in spec.args.items():
        if name not in args and arg.default is not None:
            args[name] = arg.default
    return args


def as_bool(value: Any) -> bool:
    """Ansible's boolean reading of an argument value."""
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("yes", "on", "1", "true", "y", "t")
