"""Filter, test and lookup names: how a name in a template resolves, and the load-time check.

Resolution (ansible-core 2.19's rules):

* ``NAME``: a filter_plugins/test_plugins definition of the run first, then orchestr's
  implementation of Ansible's plugin, then Jinja2's builtin.
* ``ansible.builtin.NAME``: orchestr's implementation of Ansible's builtin, or Jinja2's builtin
  (Ansible exposes Jinja2's filters and tests under ansible.builtin too). Never a user plugin.
* ``ansible.legacy.NAME``: a user plugin, then Ansible's own plugins; Jinja2's builtins are not
  reachable this way (``ansible.legacy.join`` is unknown to Ansible as well), except the ones
  Ansible wraps as plugins of its own (``default``, ``map``, ``select``...).
* Lookups: ``NAME``, ``ansible.builtin.NAME`` and ``ansible.legacy.NAME`` for the lookups of
  :mod:`orchestr.playbook.lookups`, plus the community.general ones orchestr has (``flattened``).

The check (:class:`NameCheck`): every template string of the files a playbook loads, every
condition (``when``, ``changed_when``, ``failed_when``, ``until``, assert's ``that``) and
debug's ``var`` is parsed once; each filter, test and ``lookup('NAME')``/``query``/``q`` with a
literal name, and the names given to ``map``/``select``/``reject``/``selectattr``/``rejectattr``,
must resolve. An unknown one is one error with file:line[:column] and a did-you-mean hint.

orchestr checks at load time, Ansible only when a template is rendered: a misspelt filter in a
task that a ``when:`` skips (``setup-RedHat.yml`` on Debian) passes ansible-playbook and fails
orchestr's --syntax-check and ``apply`` before any host is touched. That is deliberate: the same
playbook on the other OS family would fail half-way through.
"""

from __future__ import annotations

import difflib
import functools
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import jinja2
from jinja2 import nodes
from jinja2.defaults import DEFAULT_FILTERS, DEFAULT_TESTS

from orchestr.errors import Location
from orchestr.playbook import filters as _filters

if TYPE_CHECKING:
    from orchestr.playbook.plugins import PluginSet

BUILTIN = "ansible.builtin."
LEGACY = "ansible.legacy."

# Jinja2 builtins that Ansible also ships as plugins of its own (so ansible.legacy.NAME works).
_ANSIBLE_WRAPS = {
    "filter": frozenset(
        ("d", "default", "groupby", "map", "random", "reject", "rejectattr", "select")
        + ("selectattr", "unique")
    ),
    "test": frozenset(("defined", "undefined")),
}
# Tests orchestr defines that are Jinja2's, not Ansible plugins.
_NOT_ANSIBLE = {"filter": frozenset(), "test": frozenset(("mapping",))}

# Ansible 2.19 names orchestr does not implement (the check says so rather than "unknown").
ANSIBLE_ONLY = {
    "filter": frozenset(),
    "test": frozenset(),
    "lookup": frozenset(("config", "csvfile", "ini", "password", "unvault", "url")),
}


def builtins(kind: str) -> dict[str, Callable[..., Any]]:
    """Jinja2's builtins overlaid with orchestr's implementations of Ansible's."""
    if kind == "filter":
        return {**DEFAULT_FILTERS, **_filters.FILTERS}
    return {**DEFAULT_TESTS, **_filters.TESTS}


@functools.lru_cache(maxsize=2)
def ansible_plugin_names(kind: str) -> frozenset[str]:
    """Names reachable as ansible.legacy.NAME without user plugins."""
    own = _filters.FILTERS if kind == "filter" else _filters.TESTS
    return (frozenset(own) - _NOT_ANSIBLE[kind]) | _ANSIBLE_WRAPS[kind]


def resolve(kind: str, name: str, table: Mapping[str, Any], plugin_set: PluginSet | None) -> Any:
    """The function `name` means in `table` (the builtins) with `plugin_set`; None if none."""
    if name.startswith(BUILTIN):
        return table.get(name[len(BUILTIN) :])
    if plugin_set is not None:
        found = plugin_set.find(kind, name)
        if found is not None:
            return found
    if name.startswith(LEGACY):
        short = name[len(LEGACY) :]
        return table.get(short) if short in ansible_plugin_names(kind) else None
    return table.get(name)


def lookup_names() -> frozenset[str]:
    from orchestr.playbook.lookups import LOOKUPS

    return frozenset(LOOKUPS)


def lookup_known(name: str) -> bool:
    from orchestr.playbook.lookups import lookup_function

    return lookup_function(name) is not None


def known_names(kind: str, plugin_set: PluginSet | None) -> set[str]:
    """Every short and qualified name that resolves (for did-you-mean hints)."""
    if kind == "lookup":
        short = set(lookup_names())
        return short | {BUILTIN + n for n in short}
    short = set(builtins(kind))
    names = short | {BUILTIN + n for n in short} | {LEGACY + n for n in ansible_plugin_names(kind)}
    if plugin_set is not None:
        mine = plugin_set.table(kind)
        names |= set(mine) | {LEGACY + n for n in mine}
    return names


# --------------------------------------------------------------------------------------------
# What a template uses


@dataclass(frozen=True)
class Reference:
    kind: str  # filter | test | lookup
    name: str
    line: int  # 1-based, inside the template text


@functools.lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    return jinja2.Environment(extensions=["jinja2.ext.do", "jinja2.ext.loopcontrols"])


def _literal(node: nodes.Node | None) -> str | None:
    if isinstance(node, nodes.Const) and isinstance(node.value, str):
        return node.value
    return None


def _short(name: str) -> str:
    for prefix in (BUILTIN, LEGACY):
        if name.startswith(prefix):
            return name[len(prefix) :]
    return name


@functools.lru_cache(maxsize=8192)
def analyse(text: str) -> tuple[tuple[str, ...], tuple[Reference, ...]]:
    """(Jinja2 syntax errors, names used) of one template string; ((), ()) without markup."""
    if "{{" not in text and "{%" not in text and "{#" not in text:
        return (), ()
    try:
        tree = _environment().parse(text)
    except jinja2.TemplateSyntaxError as error:
        return (error.message or str(error),), ()
    found: list[Reference] = []
    for node in tree.find_all((nodes.Filter, nodes.Test, nodes.Call)):
        if isinstance(node, nodes.Call):
            callee = node.node
            if isinstance(callee, nodes.Name) and callee.name in ("lookup", "query", "q"):
                name = _literal(node.args[0]) if node.args else None
                if name is not None:
                    found.append(Reference("lookup", name, node.lineno))
            continue
        kind = "filter" if isinstance(node, nodes.Filter) else "test"
        found.append(Reference(kind, node.name, node.lineno))
        if kind != "filter":
            continue
        base = _short(node.name)
        if base == "map" and not any(k.key == "attribute" for k in node.kwargs):
            named = _literal(node.args[0]) if node.args else None
            if named is not None:
                found.append(Reference("filter", named, node.lineno))
        elif base in ("select", "reject"):
            named = _literal(node.args[0]) if node.args else None
            if named is not None:
                found.append(Reference("test", named, node.lineno))
        elif base in ("selectattr", "rejectattr"):
            named = _literal(node.args[1]) if len(node.args) > 1 else None
            if named is not None:
                found.append(Reference("test", named, node.lineno))
    return (), tuple(dict.fromkeys(found))


def references(text: str) -> tuple[Reference, ...]:
    return analyse(text)[1]


def expression_references(expression: str) -> tuple[Reference, ...]:
    """The names a bare expression (``when: x | bool``) uses."""
    if "{{" in expression or "{%" in expression:
        return references(expression)
    return references("{{ " + expression + " }}")


# --------------------------------------------------------------------------------------------
# The load-time check


@dataclass
class _Use:
    reference: Reference
    location: Location


@dataclass
class NameCheck:
    """Collects the names the loaded files use and where, then checks them all at once (the
    plugin folders of every playbook and role read are known only at the end of loading)."""

    uses: list[_Use] = field(default_factory=list)
    bases: list[str] = field(default_factory=list)

    def add_base(self, folder: str) -> None:
        """A playbook's folder or a role's: their filter_plugins/ and test_plugins/ count."""
        folder = os.path.abspath(folder)
        if folder not in self.bases:
            self.bases.append(folder)

    def template(self, text: str, where: Location, block: bool = False) -> None:
        for reference in references(text):
            self.uses.append(_Use(reference, _at(where, reference.line, block)))

    def expression(self, expression: Any, where: Location) -> None:
        """A bare expression; strings holding {{ }} are templates the document scan has seen."""
        if isinstance(expression, str) and "{{" not in expression and "{%" not in expression:
            for reference in expression_references(expression):
                self.uses.append(_Use(reference, _at(where, reference.line, False)))

    def module_args(self, module: str, args: Mapping[str, Any], where: Location) -> None:
        """Bare expressions in module arguments: assert's `that`, debug's `var`."""
        if module == "assert":
            that = args.get("that")
            for item in that if isinstance(that, list) else [that]:
                self.expression(item, where)
        elif module == "debug" and isinstance(args.get("var"), str):
            self.expression(args["var"], where)

    def problems(self) -> list[tuple[str, Location, str]]:
        """(message, location, hint) of every unknown name, each use once, in order of use."""
        if not self.uses:
            return []
        from orchestr.playbook.plugins import for_bases

        plugin_set = for_bases(self.bases)
        tables = {"filter": builtins("filter"), "test": builtins("test")}
        results: list[tuple[str, Location, str]] = []
        seen: set[tuple[str, str, Location]] = set()
        for use in self.uses:
            kind, name = use.reference.kind, use.reference.name
            key = (kind, name, use.location)
            if key in seen:
                continue
            seen.add(key)
            if kind == "lookup":
                if lookup_known(name):
                    continue
            elif resolve(kind, name, tables[kind], plugin_set) is not None:
                continue
            message, hint = _explain(kind, name, plugin_set)
            results.append((message, use.location, hint))
        return results


def _at(where: Location, line: int, block: bool) -> Location:
    if line <= 1 and not block:
        return where
    # Inside a multi-line scalar: the line is known, the column is not.
    return Location(where.path, where.line + line - (0 if block else 1), 0)


def _explain(kind: str, name: str, plugin_set: PluginSet) -> tuple[str, str]:
    what = "lookup plugin" if kind == "lookup" else kind
    short = _short(name)
    if kind == "lookup" and short in plugin_set.lookup_files:
        path = plugin_set.lookup_files[short]
        return (
            f"lookup plugin {name!r} comes from {path}: orchestr cannot run Ansible lookup plugins",
            "compute the value in a filter_plugins/ filter, or with a task and register",
        )
    if short in ANSIBLE_ONLY[kind] and (name == short or name.startswith((BUILTIN, LEGACY))):
        return f"Ansible's {what} {name!r} is not implemented by orchestr", ""
    if kind != "lookup" and name != short:
        mine = plugin_set.table(kind)
        if name.startswith(BUILTIN) and short in mine:
            return (
                f"no {what} named {name!r}",
                f"{short!r} comes from {plugin_set.origins[(kind, short)]}: call it {short!r} "
                f"or 'ansible.legacy.{short}' (ansible.builtin holds only Ansible's own)",
            )
        if name.startswith(LEGACY) and short in builtins(kind):
            return (
                f"no {what} named {name!r}",
                f"{short!r} is Jinja2's: call it {short!r} or 'ansible.builtin.{short}' "
                "(ansible.legacy reaches Ansible's plugins and filter_plugins/ only)",
            )
    collection, _, leaf = name.rpartition(".")
    if name == short and collection.count(".") == 1:
        close = _suggest(leaf, known_names(kind, plugin_set))
        return (
            f"no {what} named {name!r}",
            f"orchestr has no {kind}s of the collection {collection}"
            + (f"; {close}" if close else ""),
        )
    broken = plugin_set.problems_for(kind, short) if kind != "lookup" else []
    if broken:
        problem = broken[0]
        return (
            f"no {what} named {name!r}",
            f"{problem.path} could not be loaded: {problem.message}",
        )
    hint = _suggest(name, known_names(kind, plugin_set))
    if not hint:
        if kind == "lookup":
            hint = "orchestr has the lookups " + ", ".join(sorted(lookup_names()))
        else:
            folder = "filter_plugins" if kind == "filter" else "test_plugins"
            hint = (
                f"orchestr knows Jinja2's and ansible.builtin's {kind}s and those of {folder}/ "
                "beside the playbook or in its roles"
            )
    return f"no {what} named {name!r}", hint


def _suggest(word: str, candidates: Iterable[str]) -> str:
    pool = sorted(candidates)
    if "." not in word:
        pool = [c for c in pool if "." not in c] or pool
    close = difflib.get_close_matches(word, pool, n=1, cutoff=0.7)
    return f"did you mean {close[0]!r}?" if close else ""
