"""Lookups (``lookup('env', 'HOME')``, ``with_first_found:``): each returns a list of values, as
Ansible's plugins do; the templar turns it into lookup()'s or query()'s result, the runner into a
loop's items (:func:`loop_lookup`).

Names: ``NAME``, ``ansible.builtin.NAME``, ``ansible.legacy.NAME``; ``flattened`` is
community.general's, reachable as ``community.general.flattened`` too.

Where relative file names are looked for (``file``, ``template``, ``first_found``,
``fileglob``): the templar's search paths in order (the role's folder, the task file's folder,
the playbook's folder: Ansible's ``ansible_search_path``), each first with the lookup's subfolder
(``files``, ``templates``...) then without.
"""

from __future__ import annotations

import copy as copy_module
import glob
import os
import re
import secrets
import subprocess
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from orchestr.playbook.templar import Templar

LookupFunction = Callable[["Templar", list[Any], dict[str, Any]], list[Any]]

_MISSING = object()


def _error(message: str) -> Exception:
    from orchestr.playbook.templar import TemplateError

    return TemplateError(message)


# --------------------------------------------------------------------------------------------
# Files


def find_file(templar: Templar, name: str, kind: str) -> str | None:
    """`name` as an absolute path, or in each search path's `kind` folder, then the path itself."""
    name = os.path.expanduser(str(name))
    if os.path.isabs(name):
        return name if os.path.exists(name) else None
    for base in (*templar.search_paths, os.getcwd()):
        for candidate in (os.path.join(base, kind, name), os.path.join(base, name)):
            if os.path.exists(candidate):
                return candidate
    return None


def _search_stack(templar: Templar, subdir: str | None, name: str) -> str | None:
    """Ansible's path_dwim_relative_stack: absolute (or ~) names as they are; relative ones in
    each search path (its `subdir` first when there is one). No current-directory fallback."""
    if name.startswith(("~", os.sep)):
        path = os.path.normpath(os.path.expanduser(name))
        return path if os.path.exists(path) else None
    for base in templar.search_paths:
        candidates = [os.path.join(base, subdir, name)] if subdir else []
        candidates.append(os.path.join(base, name))
        for candidate in candidates:
            if os.path.exists(candidate):
                return os.path.normpath(os.path.abspath(candidate))
    return None


def _read(templar: Templar, name: str, kind: str, lookup: str) -> str:
    path = find_file(templar, name, kind)
    if path is None or not os.path.isfile(path):
        raise _error(f"The '{lookup}' lookup cannot find the file {name!r}")
    try:
        with open(path, encoding="utf-8", errors="surrogateescape", newline="") as handle:
            return handle.read()
    except OSError as error:
        raise _error(f"The '{lookup}' lookup cannot read {path}: {error.strerror}") from None


def _file(templar: Templar, terms: list[Any], options: dict[str, Any]) -> list[Any]:
    rstrip = options.pop("rstrip", True)
    lstrip = options.pop("lstrip", False)
    _no_more(options, "file")
    values = []
    for term in terms:
        text = _read(templar, term, "files", "file")
        if rstrip:
            text = text.rstrip()
        if lstrip:
            text = text.lstrip()
        values.append(text)
    return values


def _template(templar: Templar, terms: list[Any], options: dict[str, Any]) -> list[Any]:
    extra = options.pop("template_vars", None) or {}
    options.pop("convert_data", None)
    options.pop("jinja2_native", None)
    _no_more(options, "template")
    renderer = templar.child(extra) if extra else templar
    return [
        renderer.render_file_text(_read(templar, term, "templates", "template")) for term in terms
    ]


def _split_on(value: Any, separators: str) -> list[str]:
    """first_found's old splitting of "a.yml,b.yml" (deprecated in Ansible, still done)."""
    if isinstance(value, str):
        return re.split("[" + re.escape(separators) + "]", value)
    if isinstance(value, Sequence):
        return [part for item in value for part in _split_on(item, separators)]
    raise _error(f"first_found: invalid file name {value!r}")


def _first_found(templar: Templar, terms: list[Any], options: dict[str, Any]) -> list[Any]:
    """The first file that exists among the candidates: ``[path]``, else ``[]`` with skip, else
    an error. A term is a file name, a list of them, or ``{files, paths, skip}``; ``paths``
    makes every path/file combination a candidate (path-major). Called as ``lookup()`` the
    names are searched in the search paths themselves, as ``with_first_found`` also in their
    ``files/`` (``templates/`` for the template module, ``vars/`` for include_vars)."""
    subdir = options.pop("_subdir", None)
    current = {
        "files": options.pop("files", []),
        "paths": options.pop("paths", []),
        "skip": options.pop("skip", False),
    }
    _no_more(options, "first_found")
    if not terms:
        terms = list(current["files"]) if isinstance(current["files"], list) else [current["files"]]
    candidates: list[str] = []

    def collect(items: list[Any]) -> None:
        for term in items:
            if isinstance(term, Mapping):
                unknown = set(term) - {"files", "paths", "skip"}
                if unknown:
                    raise _error(f"first_found: unknown option(s) {', '.join(sorted(unknown))}")
                current.update(files=term.get("files", []), paths=term.get("paths", []),
                               skip=term.get("skip", False))  # fmt: skip
                files = _split_on(current["files"], ",;")
            elif isinstance(term, str):
                files = _split_on(term, ",;")
            elif isinstance(term, Sequence):
                collect(list(term))
                continue
            else:
                raise _error(
                    "Invalid term supplied. A string, dict or list is required, "
                    f"not {type(term).__name__!r})."
                )
            paths = _split_on(current["paths"], ",:;")
            if paths:
                candidates.extend(os.path.join(path, name) for path in paths for name in files)
            else:
                candidates.extend(files)

    collect(terms)
    for candidate in candidates:
        found = _search_stack(templar, subdir, candidate)
        if found is not None:
            return [found]
    if _truthy(current["skip"]):
        return []
    raise _error("No file was found when using first_found.")


def _fileglob(templar: Templar, terms: list[Any], options: dict[str, Any]) -> list[Any]:
    """Files matching each pattern: in the pattern's folder when it has one (found like a
    file), else in each search path's files/ then the path itself; the first folder with
    matches wins. Sorted by name (Ansible leaves the file system's order)."""
    _no_more(options, "fileglob")
    values: list[str] = []
    for term in terms:
        pattern = str(term)
        name = os.path.basename(pattern)
        if name != pattern:
            folder = _search_stack(templar, "files", os.path.dirname(pattern))
            folders = [folder] if folder else []
        else:
            folders = [p for base in templar.search_paths
                       for p in (os.path.join(base, "files"), base)]  # fmt: skip
        for folder in folders:
            matches = sorted(p for p in glob.glob(os.path.join(folder, name)) if os.path.isfile(p))
            if matches:
                values.extend(matches)
                break
    return values


# --------------------------------------------------------------------------------------------
# The controller's environment and commands


def _env(templar: Templar, terms: list[Any], options: dict[str, Any]) -> list[Any]:
    """Environment variables of the controller; an unset one is ``default`` ('' unless given;
    ``default=undef()`` makes it undefined), as Ansible 2.19."""
    from jinja2.runtime import Undefined

    from orchestr.playbook.templar import undefined

    default = options.pop("default", "")
    _no_more(options, "env")
    values: list[Any] = []
    for term in terms:
        words = str(term).split()  # Ansible uses the first word of each term
        if not words:
            continue
        name = words[0]
        value = os.environ.get(name, _MISSING)
        if value is _MISSING:
            value = default
            if isinstance(value, Undefined):
                value = undefined(f"The environment variable {name!r} is not set.")
        values.append(value)
    return values


def _basedir(templar: Templar) -> str:
    try:
        base = templar.variables.resolve("playbook_dir", templar)
    except KeyError:
        base = None
    if isinstance(base, str) and os.path.isdir(base):
        return base
    return templar.search_paths[-1] if templar.search_paths else os.getcwd()


def _run(templar: Templar, command: str, lookup: str) -> bytes:
    done = subprocess.run(
        command, shell=True, cwd=_basedir(templar), stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise _error(f"lookup_plugin.{lookup}({command}) returned {done.returncode}")
    return done.stdout


def _lines(templar: Templar, terms: list[Any], options: dict[str, Any]) -> list[Any]:
    """Each term is a shell command run on the controller in the playbook's folder; the values
    are its output lines."""
    _no_more(options, "lines")
    values: list[str] = []
    for term in terms:
        output = _run(templar, str(term), "lines")
        values.extend(output.decode("utf-8", "surrogateescape").splitlines())
    return values


def _pipe(templar: Templar, terms: list[Any], options: dict[str, Any]) -> list[Any]:
    """Each term is a shell command run on the controller; the value is its output, stripped at
    the end."""
    _no_more(options, "pipe")
    return [_run(templar, str(term), "pipe").decode("utf-8", "surrogateescape").rstrip()
            for term in terms]  # fmt: skip


# --------------------------------------------------------------------------------------------
# Lists


def _items(templar: Templar, terms: list[Any], options: dict[str, Any]) -> list[Any]:
    values: list[Any] = []
    for term in terms:
        if isinstance(term, list):
            values.extend(term)
        else:
            values.append(term)
    return values


def _list(templar: Templar, terms: list[Any], options: dict[str, Any]) -> list[Any]:
    return list(terms)


def _flatten_all(values: Sequence[Any]) -> list[Any]:
    flat: list[Any] = []
    for value in values:
        if value is None or (isinstance(value, str) and value in ("None", "null")):
            continue
        if isinstance(value, list | tuple):
            flat.extend(_flatten_all(value))
        else:
            flat.append(value)
    return flat


def _flattened(templar: Templar, terms: list[Any], options: dict[str, Any]) -> list[Any]:
    """community.general.flattened: every nested list flattened into one (nulls dropped)."""
    _no_more(options, "flattened")
    return _flatten_all(terms)


def _random_choice(templar: Templar, terms: list[Any], options: dict[str, Any]) -> list[Any]:
    """One of the terms, picked at random ([] for no terms)."""
    _no_more(options, "random_choice")
    return [secrets.choice(terms)] if terms else list(terms)


def _loop_form(name: str) -> LookupFunction:
    """The lookups that are also with_ loops computed by orchestr.playbook.loops."""

    def run(templar: Templar, terms: list[Any], options: dict[str, Any]) -> list[Any]:
        from orchestr.playbook.loops import LoopError, loop_items, sequence_items

        _no_more(options, name)
        try:
            if name == "sequence":
                return [value for term in terms for value in sequence_items(term)]
            if name == "dict":
                return [item for term in terms for item in loop_items("dict", term)]
            return loop_items(name, terms)
        except (LoopError, ValueError, TypeError) as error:
            raise _error(f"lookup {name}: {error}") from None

    return run


def _subelements(templar: Templar, terms: list[Any], options: dict[str, Any]) -> list[Any]:
    """[item, sub] for each sub of each item's list at a (dotted) key. As Ansible: the item is
    a copy without that list, items with ``skipped: true`` are left out, and a third term
    ``{skip_missing: true}`` skips the items lacking the key instead of failing."""
    _no_more(options, "subelements")
    if len(terms) not in (2, 3) or not isinstance(terms[1], str):
        raise _error("subelements lookup expects a list of two or three items, the second a key")
    flags = terms[2] if len(terms) == 3 else {}
    if not isinstance(flags, Mapping) or set(flags) - {"skip_missing"}:
        raise _error("the optional third item of subelements is a dict with skip_missing")
    skip_missing = _truthy(flags.get("skip_missing", False))
    items = terms[0]
    if isinstance(items, Mapping):
        items = list(items.values())
    if not isinstance(items, list):
        raise _error("subelements lookup expects a list or a dictionary of dictionaries")
    keys = terms[1].split(".")
    values: list[Any] = []
    for item in items:
        if not isinstance(item, Mapping):
            raise _error(f"subelements lookup expects a dictionary, got {item!r}")
        if item.get("skipped") is True:
            continue
        copy = copy_module.deepcopy(dict(item))
        holder: Any = copy
        sublist: Any = None
        for depth, key in enumerate(keys):
            if not isinstance(holder, Mapping) or key not in holder:
                if skip_missing:
                    break
                raise _error(f"could not find {key!r} key in iterated item {holder!r}")
            if depth < len(keys) - 1:
                holder = holder[key]
                continue
            if not isinstance(holder[key], list):
                raise _error(f"the key {key} should point to a list, got {holder[key]!r}")
            sublist = holder.pop(key)
        values.extend([copy, sub] for sub in sublist or [])
    return values


# --------------------------------------------------------------------------------------------
# Variables and the inventory


def _vars(templar: Templar, terms: list[Any], options: dict[str, Any]) -> list[Any]:
    default = options.pop("default", _MISSING)
    _no_more(options, "vars")
    values = []
    for term in terms:
        if term in templar.variables:
            values.append(templar.variables.resolve(term, templar))
        elif default is not _MISSING:
            values.append(default)
        else:
            raise _error(f"No variable named {term!r} was found")
    return values


def _varnames(templar: Templar, terms: list[Any], options: dict[str, Any]) -> list[Any]:
    """Names of the variables matching each regular expression (re.match), in the variables'
    order."""
    _no_more(options, "varnames")
    names = list(templar.variables)
    values: list[str] = []
    for term in terms:
        if not isinstance(term, str):
            raise _error(f"Invalid setting identifier, {term!r} is not a string")
        try:
            pattern = re.compile(term)
        except re.error as error:
            raise _error(f"Unable to use {term!r} as a search parameter: {error}") from None
        values.extend(name for name in names if pattern.match(name))
    return values


def _inventory_of(groups: Any) -> Any:
    """The inventory behind `groups` (the runner's view), or one built from a plain mapping of
    group -> host names, as Ansible builds one from the `groups` variable."""
    from orchestr.inventory.model import Group, Host, Inventory

    inventory = getattr(groups, "_inventory", None)
    if isinstance(inventory, Inventory):
        return inventory
    if not isinstance(groups, Mapping):
        raise _error("inventory_hostnames needs the 'groups' variable")
    hosts: dict[str, Host] = {}
    members: dict[str, tuple[str, ...]] = {}
    for group, names in groups.items():
        listed = tuple(str(name) for name in (names or ()))
        members[str(group)] = listed
        for name in listed:
            hosts.setdefault(name, Host(name))
    members.setdefault("all", tuple(hosts))
    return Inventory(
        hosts=hosts,
        groups={name: Group(name, hosts=listed) for name, listed in members.items()},
        group_members=members,
    )


def _inventory_hostnames(templar: Templar, terms: list[Any], options: dict[str, Any]) -> list:
    """Names of the inventory hosts matching the host patterns (all terms together, as one
    pattern list: ``all:!web``, ``web:&prod``, ``~regex``...); no match or a bad pattern: []."""
    from orchestr.inventory.patterns import PatternError, select_hosts, split_patterns

    _no_more(options, "inventory_hostnames")
    try:
        groups = templar.variables.resolve("groups", templar)
    except KeyError:
        raise _error("inventory_hostnames needs the 'groups' variable") from None
    inventory = _inventory_of(groups)
    patterns = [part for term in terms for part in split_patterns(str(term))]
    if not patterns:
        return []
    try:
        return [host.name for host in select_hosts(inventory, ",".join(patterns))]
    except (PatternError, ValueError):
        return []


# --------------------------------------------------------------------------------------------
# The table, and running a lookup


def _no_more(options: dict[str, Any], lookup: str) -> None:
    if options:
        unknown = ", ".join(sorted(options))
        raise _error(f"The '{lookup}' lookup does not take the option(s) {unknown}")


def _truthy(value: Any) -> bool:
    from orchestr.playbook.filters import to_bool

    return value if isinstance(value, bool) else to_bool(value)


LOOKUPS: dict[str, LookupFunction] = {
    "env": _env,
    "file": _file,
    "template": _template,
    "first_found": _first_found,
    "fileglob": _fileglob,
    "items": _items,
    "list": _list,
    "flattened": _flattened,
    "random_choice": _random_choice,
    "indexed_items": _loop_form("indexed_items"),
    "nested": _loop_form("nested"),
    "together": _loop_form("together"),
    "sequence": _loop_form("sequence"),
    "dict": _loop_form("dict"),
    "subelements": _subelements,
    "lines": _lines,
    "pipe": _pipe,
    "vars": _vars,
    "varnames": _varnames,
    "inventory_hostnames": _inventory_hostnames,
}

# community.general lookups orchestr has, under their collection's name.
COMMUNITY_GENERAL = frozenset({"flattened"})


def lookup_function(name: str) -> LookupFunction | None:
    """The lookup `name` means (short, ansible.builtin., ansible.legacy. or a community.general
    one orchestr has), None when unknown."""
    if name.startswith("community.general."):
        short = name[len("community.general.") :]
        return LOOKUPS.get(short) if short in COMMUNITY_GENERAL else None
    # ansible.builtin.flattened redirects to community.general's, as Ansible routes it.
    return LOOKUPS.get(name.removeprefix("ansible.builtin.").removeprefix("ansible.legacy."))


def run_lookup(templar: Templar, name: str, terms: list[Any], options: dict[str, Any]) -> list:
    function = lookup_function(name)
    if function is None:
        raise _error(f"lookup plugin ({name}) not found")
    _trip_undefined(terms)
    return function(templar, terms, dict(options))


def _trip_undefined(value: Any) -> None:
    """An undefined term fails the lookup with its own message ('x' is undefined)."""
    from jinja2.runtime import Undefined

    if isinstance(value, Undefined):
        str(value)  # raises the undefined error
    elif isinstance(value, Mapping):
        for item in value.values():
            _trip_undefined(item)
    elif isinstance(value, list | tuple):
        for item in value:
            _trip_undefined(item)


# --------------------------------------------------------------------------------------------
# with_<lookup> loops

# with_ loops whose items come from a lookup here (the others are computed by loops.py).
LOOP_LOOKUPS = frozenset(
    {"first_found", "flattened", "lines", "file", "env", "random_choice", "inventory_hostnames",
     "fileglob", "subelements"}
)  # fmt: skip


def _first_found_subdir(action: str) -> str:
    """with_first_found looks in templates/ for the template module, vars/ for include_vars,
    files/ otherwise (Ansible picks by the action's name the same way)."""
    for word in ("template", "var", "file"):
        if word in action:
            return word + "s"
    return "files"


def loop_lookup(templar: Templar, lookup: str, terms: Any, action: str = "") -> list[Any]:
    """The items of ``with_<lookup>: terms`` on a task running `action`: the terms templated
    (a string that templates to a list is that list; anything else becomes a one-item list),
    then the lookup. with_first_found drops the undefined names among its terms, as Ansible."""
    if lookup == "first_found":
        rendered = _render_defined(templar, terms)
    else:
        rendered = templar.render(terms.strip() if isinstance(terms, str) else terms)
    if not isinstance(rendered, list):
        rendered = [rendered]
    options: dict[str, Any] = {}
    if lookup == "first_found":
        options["_subdir"] = _first_found_subdir(action)
    return run_lookup(templar, lookup, rendered, options)


def _render_defined(templar: Templar, value: Any) -> Any:
    """`value` rendered deeply, leaving out the list items and dict values that are undefined."""
    from orchestr.playbook.templar import TemplateError, is_undefined_error

    if isinstance(value, str):
        return templar.render(value.strip())
    if isinstance(value, Mapping):
        result = {}
        for key, item in value.items():
            try:
                result[key] = _render_defined(templar, item)
            except TemplateError as error:
                if not is_undefined_error(error):
                    raise
        return result
    if isinstance(value, list | tuple):
        items = []
        for item in value:
            try:
                items.append(_render_defined(templar, item))
            except TemplateError as error:
                if not is_undefined_error(error):
                    raise
        return items
    return value
