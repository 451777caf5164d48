"""filter_plugins/ and test_plugins/ of a playbook and its roles, run in the controller's Python.

Where they are looked for, in this order (Ansible's order; the first definition of a name wins):

1. ``filter_plugins/`` (``test_plugins/``) beside each playbook file, the main one first, then
   the ones import_playbook brings in;
2. the same folders in each role the playbooks use (``roles/NAME/filter_plugins``), in the order
   the roles are read; a role's plugins serve the whole run, not only the role (as in Ansible);
3. the folders of ``ANSIBLE_FILTER_PLUGINS`` / ``ANSIBLE_TEST_PLUGINS`` (``:``-separated, each
   with its subfolders one and two levels deep), else Ansible's defaults
   ``~/.ansible/plugins/filter`` and ``/usr/share/ansible/plugins/filter`` (``test`` for tests).

In a folder, the ``*.py`` files are read in name order (``__init__.py`` skipped). A file defines
filters with a ``FilterModule`` class whose ``filters()`` returns ``{name: function}``, tests
with ``TestModule.tests()``. Names holding a dot are ignored, as Ansible ignores them. Such names
win over orchestr's own filters and Jinja2's for their short name and ``ansible.legacy.NAME``;
``ansible.builtin.NAME`` always means the builtin.

A file that cannot be imported (a missing Python library, a syntax error) is skipped, as Ansible
skips it with a warning; the problem is kept (:attr:`PluginSet.problems`) so that using one of
its names reports why it is unknown. Each file is imported once per process (again only when it
changed), so the syntax check and the run share one import.

Plugin files often import from ``ansible`` (``AnsibleFilterError``, ``to_text``...): when
ansible-core is not installed, :mod:`orchestr.playbook.ansible_compat` serves the few modules
they use.
"""

from __future__ import annotations

import contextlib
import contextvars
import glob
import hashlib
import importlib.machinery
import importlib.util
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from orchestr.playbook.model import Playbook

KINDS = ("filter", "test")
_FOLDER = {"filter": "filter_plugins", "test": "test_plugins", "lookup": "lookup_plugins"}
_CLASS = {"filter": ("FilterModule", "filters"), "test": ("TestModule", "tests")}
_ENV = {"filter": "ANSIBLE_FILTER_PLUGINS", "test": "ANSIBLE_TEST_PLUGINS"}


@dataclass(frozen=True)
class PluginProblem:
    """A plugin file that could not be used, and why (an import error, a bad filters())."""

    path: str
    kind: str
    message: str

    def mentions(self, name: str) -> bool:
        """Whether the file's text names `name` (so the unknown name probably lives there)."""
        try:
            with open(self.path, encoding="utf-8", errors="replace") as handle:
                text = handle.read()
        except OSError:
            return False
        return f"'{name}'" in text or f'"{name}"' in text


@dataclass
class PluginSet:
    """The filters and tests of a run's plugin folders (empty when there are none)."""

    filters: dict[str, Callable[..., Any]] = field(default_factory=dict)
    tests: dict[str, Callable[..., Any]] = field(default_factory=dict)
    # Where each name was defined, for messages.
    origins: dict[tuple[str, str], str] = field(default_factory=dict)
    problems: list[PluginProblem] = field(default_factory=list)
    # lookup_plugins/NAME.py files seen beside playbooks and in roles: orchestr cannot run
    # Ansible lookup plugins, but it can say so instead of "unknown lookup".
    lookup_files: dict[str, str] = field(default_factory=dict)
    folders: list[str] = field(default_factory=list)
    _read: set[tuple[str, str]] = field(default_factory=set, repr=False)

    def table(self, kind: str) -> dict[str, Callable[..., Any]]:
        return self.filters if kind == "filter" else self.tests

    def find(self, kind: str, name: str) -> Callable[..., Any] | None:
        """A plugin function by its short name or ansible.legacy.NAME; None when not ours."""
        table = self.filters if kind == "filter" else self.tests
        if not table:
            return None
        if name.startswith("ansible.legacy."):
            name = name[len("ansible.legacy.") :]
        return table.get(name)

    def problems_for(self, kind: str, name: str) -> list[PluginProblem]:
        return [p for p in self.problems if p.kind == kind and p.mentions(name)]

    def add_base(self, base: str) -> None:
        """Read the plugin folders of a playbook folder or a role (once; later names lose)."""
        for kind in KINDS:
            self.add_folder(os.path.join(base, _FOLDER[kind]), kind)
        lookups = os.path.join(base, _FOLDER["lookup"])
        if os.path.isdir(lookups):
            for path in sorted(glob.glob(os.path.join(lookups, "*.py"))):
                name = os.path.splitext(os.path.basename(path))[0]
                self.lookup_files.setdefault(name, path)

    def add_folder(self, folder: str, kind: str) -> None:
        folder = os.path.realpath(folder)
        if (kind, folder) in self._read or not os.path.isdir(folder):
            return
        self._read.add((kind, folder))
        self.folders.append(folder)
        for path in sorted(glob.glob(os.path.join(folder, "*.py")), key=os.path.basename):
            if os.path.basename(path) == "__init__.py":
                continue
            self._add_file(path, kind)

    def _add_file(self, path: str, kind: str) -> None:
        class_name, method = _CLASS[kind]
        try:
            module = _import(path, kind)
            provider = getattr(module, class_name)
        except AttributeError:
            self.problems.append(PluginProblem(path, kind, f"it has no {class_name} class"))
            return
        except Exception as error:  # any import-time failure of user code
            self.problems.append(PluginProblem(path, kind, _describe(error)))
            return
        try:
            names = getattr(provider(), method)()
            items = list(names.items())
        except Exception as error:
            message = f"{class_name}().{method}() failed: {_describe(error)}"
            self.problems.append(PluginProblem(path, kind, message))
            return
        table = self.table(kind)
        for name, function in items:
            if not isinstance(name, str) or "." in name or not callable(function):
                continue
            if name not in table:
                table[name] = function
                self.origins[(kind, name)] = path


def _describe(error: BaseException) -> str:
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


# --------------------------------------------------------------------------------------------
# Importing plugin files: once per file (and version of it) per process.

_MODULES: dict[str, tuple[float, int, Any]] = {}


def _import(path: str, kind: str) -> Any:
    path = os.path.realpath(path)
    stat = os.stat(path)
    known = _MODULES.get(path)
    if known is not None and known[:2] == (stat.st_mtime, stat.st_size):
        return known[2]
    digest = hashlib.sha1(path.encode("utf-8", "surrogateescape")).hexdigest()[:12]
    stem = "".join(c if c.isalnum() else "_" for c in os.path.basename(path)[:-3])
    module_name = f"orchestr_{kind}_plugins_{digest}.{stem}"
    package = module_name.rpartition(".")[0]
    if package not in sys.modules:  # a namespace for the file, so relative names stay apart
        sys.modules[package] = importlib.util.module_from_spec(
            importlib.machinery.ModuleSpec(package, None, is_package=True)
        )
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    from orchestr.playbook import ansible_compat

    sys.modules[module_name] = module
    try:
        with ansible_compat.available():
            spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(module_name, None)
        raise
    _MODULES[path] = (stat.st_mtime, stat.st_size, module)
    return module


# --------------------------------------------------------------------------------------------
# Which folders a playbook brings, and the set active while it runs.


def configured_folders(kind: str) -> list[str]:
    """ANSIBLE_FILTER_PLUGINS / ANSIBLE_TEST_PLUGINS with their subfolders, else the defaults."""
    setting = os.environ.get(_ENV[kind])
    if setting is None:
        short = "filter" if kind == "filter" else "test"
        roots = [f"~/.ansible/plugins/{short}", f"/usr/share/ansible/plugins/{short}"]
    else:
        roots = [p for p in setting.split(os.pathsep) if p]
    folders: list[str] = []
    for root in roots:
        root = os.path.abspath(os.path.expanduser(root))
        nested = glob.glob(os.path.join(root, "*")) + glob.glob(os.path.join(root, "*", "*"))
        folders.extend(p for p in nested if os.path.isdir(p))
        folders.append(root)
    return folders


def for_bases(bases: Iterable[str]) -> PluginSet:
    """The plugin set of playbook folders and role folders, in the order given, then the
    configured folders."""
    plugin_set = PluginSet()
    for base in bases:
        plugin_set.add_base(base)
    for kind in KINDS:
        for folder in configured_folders(kind):
            plugin_set.add_folder(folder, kind)
    return plugin_set


def playbook_bases(playbook: Playbook) -> list[str]:
    """The playbook's folder, its plays' folders (import_playbook), then every role it uses."""
    from orchestr.playbook.loader import iter_tasks

    bases = [os.path.dirname(os.path.abspath(playbook.path))] if playbook.path else []
    roles: list[str] = []
    for play in playbook.plays:
        if play.base_dir:
            bases.append(play.base_dir)
        for role in (*play.roles, *play.imported_roles):
            roles.append(role.path)
        for section in (play.pre_tasks, play.tasks, play.post_tasks, play.handlers):
            roles.extend(t.role_path for t in iter_tasks(section) if t.role_path)
        for role in play.roles:
            roles.extend(t.role_path for t in iter_tasks(role.tasks) if t.role_path)
    return list(dict.fromkeys(os.path.abspath(b) for b in [*bases, *roles]))


_ACTIVE: contextvars.ContextVar[PluginSet | None] = contextvars.ContextVar(
    "orchestr_plugins", default=None
)


def current() -> PluginSet | None:
    """The plugin set of the run in progress (None outside a run)."""
    return _ACTIVE.get()


@contextlib.contextmanager
def active(plugin_set: PluginSet | None) -> Iterator[PluginSet | None]:
    """Templates rendered inside see `plugin_set`'s filters and tests."""
    token = _ACTIVE.set(plugin_set)
    try:
        yield plugin_set
    finally:
        _ACTIVE.reset(token)


def for_playbook(playbook: Playbook) -> PluginSet:
    return for_bases(playbook_bases(playbook))


def add_role(path: str) -> None:
    """include_role at run time: the role's plugins join the running set (as Ansible adds a
    role's plugin folders when it loads the role)."""
    plugin_set = _ACTIVE.get()
    if plugin_set is not None:
        plugin_set.add_base(path)
