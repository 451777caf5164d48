"""Lookups (``lookup('env', 'HOME')``): each returns a list of values, as Ansible's plugins do;
the templar turns it into lookup()'s or query()'s result."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from orchestr.playbook.templar import Templar

LookupFunction = Callable[["Templar", list[Any], dict[str, Any]], list[Any]]

_MISSING = object()


def _env(templar: Templar, terms: list[Any], options: dict[str, Any]) -> list[Any]:
    from orchestr.playbook.templar import undefined

    default = options.pop("default", _MISSING)
    _no_more(options, "env")
    values: list[Any] = []
    for term in terms:
        for name in _split_terms(term):
            value = os.environ.get(name, default)
            if value is _MISSING:
                value = undefined(f"The environment variable {name!r} is not set.")
            values.append(value)
    return values


def _split_terms(term: Any) -> list[str]:
    # Ansible uses the first word of each term; "A B" looks up A only.
    text = str(term).split()
    return text[:1]


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


def _read(templar: Templar, name: str, kind: str, lookup: str) -> str:
    from orchestr.playbook.templar import TemplateError

    path = find_file(templar, name, kind)
    if path is None or not os.path.isfile(path):
        raise TemplateError(f"The '{lookup}' lookup cannot find the file {name!r}")
    try:
        with open(path, encoding="utf-8", errors="surrogateescape", newline="") as handle:
            return handle.read()
    except OSError as error:
        raise TemplateError(f"The '{lookup}' lookup cannot read {path}: {error.strerror}") from None


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


def _vars(templar: Templar, terms: list[Any], options: dict[str, Any]) -> list[Any]:
    from orchestr.playbook.templar import TemplateError

    default = options.pop("default", _MISSING)
    values = []
    for term in terms:
        if term in templar.variables:
            values.append(templar.variables.resolve(term, templar))
        elif default is not _MISSING:
            values.append(default)
        else:
            raise TemplateError(f"No variable named {term!r} was found")
    return values


def _no_more(options: dict[str, Any], lookup: str) -> None:
    from orchestr.playbook.templar import TemplateError

    if options:
        unknown = ", ".join(sorted(options))
        raise TemplateError(f"The '{lookup}' lookup does not take the option(s) {unknown}")


LOOKUPS: dict[str, LookupFunction] = {
    "env": _env,
    "file": _file,
    "template": _template,
    "items": _items,
    "list": _list,
    "vars": _vars,
}


def run_lookup(templar: Templar, name: str, terms: list[Any], options: dict[str, Any]) -> list:
    from orchestr.playbook.templar import TemplateError

    short = name.removeprefix("ansible.builtin.").removeprefix("ansible.legacy.")
    function = LOOKUPS.get(short)
    if function is None:
        raise TemplateError(f"lookup plugin ({name}) not found")
    return function(templar, terms, dict(options))
