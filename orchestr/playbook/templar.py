"""Jinja2 templating as Ansible does it: lazy variables, strict undefined, native single expressions.

How values are rendered (ansible-core 2.19 semantics, checked against it in the tests):

* A string without "{{", "{%" or "{#" is returned as is, without touching Jinja.
* A template made of exactly one node (``"{{ expr }}"``, whitespace inside the braces allowed)
  gives the expression's native value: a list stays a list, an int an int, ``'1'`` stays a str.
  Text around it (even whitespace) makes the template a string, as in Ansible 2.19.
* Any other template renders to a str; trailing newlines of the source are kept.
* Variables are templated when read (lazily): ``a: "{{ b }}"`` sees ``b`` from whatever layer
  wins at the moment ``a`` is used, so a task var or ``-e`` overriding ``b`` changes ``a``.
* Undefined names raise :class:`TemplateError` ``'foo' is undefined``, except under ``default``,
  ``is defined``/``is undefined`` and ``mandatory``; attribute access on an undefined value
  stays undefined (``foo.bar | default(1)`` works, as in Ansible).
* ``omit`` is the :data:`OMIT` sentinel: a template rendering to it returns ``OMIT``; inside
  rendered dicts and lists the entries that render to it are dropped (Ansible 2.19 does the same).
* Jinja settings are Ansible's: ``trim_blocks=True``, ``lstrip_blocks=False``, newline "\\n",
  ``keep_trailing_newline=False`` in Jinja but the source's trailing newlines are re-added after
  rendering, for expressions and for template files alike (``render_file_text``).
"""

from __future__ import annotations

import contextvars
import functools
import os
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import jinja2
from jinja2 import nodes
from jinja2.lexer import TOKEN_STRING, TOKEN_VARIABLE_BEGIN, TOKEN_VARIABLE_END, Lexer
from jinja2.nativetypes import NativeEnvironment
from jinja2.parser import Parser
from jinja2.runtime import ChainableUndefined, StrictUndefined, Undefined

from orchestr.errors import OrchestrError
from orchestr.playbook import names as _names
from orchestr.playbook import plugins as _plugins

try:  # !unsafe strings from inventories: never templated
    from orchestr.inventory.values import UnsafeText
except ImportError:  # pragma: no cover - kept optional on purpose

    class UnsafeText(str):  # type: ignore[no-redef]
        __slots__ = ()


__all__ = [
    "OMIT",
    "LayeredVars",
    "RenderedLayer",
    "TemplateError",
    "Templar",
    "is_template",
    "template_syntax_errors",
]


class TemplateError(OrchestrError):
    """A template could not be rendered; the message says why (``'foo' is undefined``...)."""


class _Omit:
    """The value of ``omit``: a module argument rendering to it is left out."""

    _instance: _Omit | None = None

    def __new__(cls) -> _Omit:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "OMIT"

    def __str__(self) -> str:
        return "__omit_place_holder__"

    def __reduce__(self) -> str:
        return "OMIT"


OMIT = _Omit()


class RenderedLayer(dict):
    """A variable layer whose values are final (set_fact results, registered results, facts):
    they are never templated again, as Ansible never re-templates what templating produced."""

    __slots__ = ()


_MARKERS = ("{{", "{%", "{#")


def is_template(text: Any) -> bool:
    """Whether a str holds Jinja2 markup (a cheap test, no parsing); unsafe text never does."""
    if not isinstance(text, str) or isinstance(text, UnsafeText):
        return False
    return "{" in text and ("{{" in text or "{%" in text or "{#" in text)


def _has_template(value: Any) -> bool:
    if isinstance(value, str):
        return is_template(value)
    if isinstance(value, dict):
        return any(_has_template(k) or _has_template(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return any(_has_template(v) for v in value)
    return False


# Big containers (gathered facts, hostvars-like data) are scanned for templates once, not at every
# read: remembered by identity, holding a reference so the id stays theirs. A big container
# changed in place afterwards is not rescanned (layers are replaced, not edited, by the runner).
_SCANNED: dict[int, tuple[Any, bool]] = {}
_SCAN_CACHE_MIN = 16
_SCAN_CACHE_MAX = 2048


def _has_template_cached(value: Any) -> bool:
    if not isinstance(value, dict | list) or len(value) < _SCAN_CACHE_MIN:
        return _has_template(value)
    known = _SCANNED.get(id(value))
    if known is not None and known[0] is value:
        return known[1]
    found = _has_template(value)
    if len(_SCANNED) >= _SCAN_CACHE_MAX:
        _SCANNED.clear()
    _SCANNED[id(value)] = (value, found)
    return found


# --------------------------------------------------------------------------------------------
# Undefined values


class AnsibleUndefined(ChainableUndefined, StrictUndefined):
    """Strict (any use fails) yet chainable (``undefined.attr`` is still undefined, so
    ``foo.bar | default(x)`` works); the message uses Ansible's wording."""

    __slots__ = ()

    @property
    def _undefined_message(self) -> str:
        if self._undefined_hint:
            return self._undefined_hint
        if self._undefined_obj is jinja2.utils.missing:
            return f"{self._undefined_name!r} is undefined"
        kind = type(self._undefined_obj).__name__
        if not isinstance(self._undefined_name, str):
            return f"object of type {kind!r} has no element {self._undefined_name!r}"
        return f"object of type {kind!r} has no attribute {self._undefined_name!r}"


def undefined(message: str) -> AnsibleUndefined:
    """An undefined value that fails with `message` when used (lookups use it for unset env)."""
    return AnsibleUndefined(hint=message)


# --------------------------------------------------------------------------------------------
# The environment: built once; compiled templates cached by source.


def _concat(values: Iterator[Any]) -> Any:
    """Native concatenation: one node keeps its type, several are joined as text."""
    parts = list(values)
    if not parts:
        return None
    if len(parts) == 1:
        return parts[0]
    for part in parts:
        if isinstance(part, Undefined):
            str(part)  # raises its undefined error
    # None renders as nothing when it is part of a larger text (Ansible's finalisation).
    return "".join("" if part is None else str(part) for part in parts)


class _SearchPathLoader(jinja2.BaseLoader):
    """{% include %} / {% import %} resolve in the active templar's search paths."""

    def get_source(self, environment: jinja2.Environment, template: str):  # type: ignore[override]
        templar = _ACTIVE.get()
        paths = templar.search_paths if templar is not None else ()
        for base in (*paths, os.getcwd()):
            for sub in ("templates", ""):
                path = os.path.join(base, sub, template)
                if os.path.isfile(path):
                    with open(path, encoding="utf-8") as handle:
                        source = handle.read()
                    mtime = os.path.getmtime(path)
                    return source, path, lambda p=path, m=mtime: os.path.getmtime(p) == m
        raise jinja2.TemplateNotFound(template)


class _RawStringLexer(Lexer):
    r"""String literals inside {{ }} keep their backslashes as written: the text came from YAML,
    which already processed escapes, so "{{ x | regex_replace('(\d)', '<\1>') }}" in a
    double-quoted YAML string means the regex (\d) and the backreference , as in Ansible.
    Statements ({% %}) and template files are not affected (Ansible does the same)."""

    def tokeniter(self, *args: Any, **kwargs: Any) -> Iterator[tuple[int, str, str]]:
        inside = False
        for lineno, kind, value in super().tokeniter(*args, **kwargs):
            if kind == TOKEN_VARIABLE_BEGIN:
                inside = True
            elif kind == TOKEN_VARIABLE_END:
                inside = False
            elif inside and kind == TOKEN_STRING:
                value = value.replace("\\", "\\\\")
            yield lineno, kind, value


@jinja2.pass_context
def _finalize(_context: Any, value: Any) -> Any:
    # Needing the context keeps Jinja from folding constant output ("{{ [1] | first }}") into
    # text at compile time, which would turn native values into their repr.
    return value


class _Environment(NativeEnvironment):
    concat = staticmethod(_concat)  # type: ignore[assignment]


class _StringEnvironment(_Environment):
    """For templates in playbook values: raw backslashes in {{ }} string literals."""

    @property
    def lexer(self) -> Lexer:  # type: ignore[override]
        lexer = self.__dict__.get("_orchestr_lexer")
        if lexer is None:
            lexer = self.__dict__["_orchestr_lexer"] = _RawStringLexer(self)
        return lexer


class _NameTable(dict):
    """The environment's filters or tests: the builtins (the dict's own items) plus
    ``ansible.builtin.NAME`` / ``ansible.legacy.NAME`` and the running playbook's
    filter_plugins / test_plugins, resolved as names.resolve says (Ansible's rules)."""

    __slots__ = ("kind",)

    def __init__(self, kind: str, builtins: Mapping[str, Any]):
        super().__init__(builtins)
        self.kind = kind

    def _find(self, name: str) -> Any:
        plugin_set = _plugins.current()
        if plugin_set is None and dict.__contains__(self, name):
            return dict.__getitem__(self, name)  # the common case, kept cheap
        return _names.resolve(self.kind, name, _BuiltinView(self), plugin_set)

    def __getitem__(self, name: str) -> Any:
        found = self._find(name) if isinstance(name, str) else None
        if found is None:
            raise KeyError(name)
        return found

    def get(self, name: str, default: Any = None) -> Any:  # type: ignore[override]
        found = self._find(name) if isinstance(name, str) else None
        return default if found is None else found

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self._find(name) is not None


class _BuiltinView:
    """A _NameTable's own items, read without the plugin and FQCN resolution."""

    __slots__ = ("table",)

    def __init__(self, table: dict):
        self.table = table

    def get(self, name: str, default: Any = None) -> Any:
        return dict.get(self.table, name, default)


def _build_environment(kind: type[_Environment]) -> _Environment:
    from orchestr.playbook import filters as _filters

    env = kind(
        undefined=AnsibleUndefined,
        trim_blocks=True,
        lstrip_blocks=False,
        newline_sequence="\n",
        keep_trailing_newline=False,
        autoescape=False,
        extensions=["jinja2.ext.loopcontrols", "jinja2.ext.do"],
        loader=_SearchPathLoader(),
        cache_size=400,
        # No constant folding: "{{ 'a,b' | split(',') }}" must stay a list, not become text.
        optimized=False,
        finalize=_finalize,
    )
    env.filters = _NameTable("filter", {**env.filters, **_filters.FILTERS})
    env.tests = _NameTable("test", {**env.tests, **_filters.TESTS})
    env.globals.update(
        range=range,
        omit=OMIT,
        lookup=_lookup,
        query=_query,
        q=_query,
        undef=_undef,
    )
    return env


_ENVIRONMENTS: dict[str, _Environment] = {}


def environment(kind: str = "file") -> _Environment:
    """The shared environment: "string" for values from playbooks, "file" for template files and
    conditionals (no backslash pre-escaping there, as in Ansible)."""
    env = _ENVIRONMENTS.get(kind)
    if env is None:
        env_class = _StringEnvironment if kind == "string" else _Environment
        env = _ENVIRONMENTS[kind] = _build_environment(env_class)
    return env


def _wrap_jinja_error(error: Exception, source: str) -> TemplateError:
    if isinstance(error, TemplateError):
        return error
    if isinstance(error, jinja2.TemplateSyntaxError):
        detail = (error.message or "syntax error").rstrip(".")
        return TemplateError(f"template error while templating string: {detail}. String: {source}")
    if isinstance(error, jinja2.UndefinedError):
        return TemplateError(str(error.message or error))
    if isinstance(error, RecursionError):
        return TemplateError(f"recursive loop detected in template string: {source}")
    message = str(error) or type(error).__name__
    return TemplateError(message)


@functools.lru_cache(maxsize=4096)
def _compile_template(source: str) -> jinja2.Template:
    return environment("string").from_string(source)


@functools.lru_cache(maxsize=256)
def _compile_file_template(
    source: str, trim_blocks: bool = True, lstrip_blocks: bool = False
) -> jinja2.Template:
    env = environment("file")
    if (trim_blocks, lstrip_blocks) != (env.trim_blocks, env.lstrip_blocks):
        # The template module's trim_blocks / lstrip_blocks: an overlay shares the filters.
        env = env.overlay(trim_blocks=trim_blocks, lstrip_blocks=lstrip_blocks)
    return env.from_string(source)


@functools.lru_cache(maxsize=4096)
def _compile_expression(source: str) -> jinja2.Template:
    env = environment()
    parser = Parser(env, source, state="variable")
    expression = parser.parse_expression()
    if not parser.stream.eos:
        raise jinja2.TemplateSyntaxError(
            f"unexpected {parser.stream.current.value!r} after the expression",
            parser.stream.current.lineno,
        )
    expression.set_environment(env)
    body = [nodes.Assign(nodes.Name("result", "store"), expression, lineno=1)]
    return env.from_string(nodes.Template(body, lineno=1))


def template_syntax_errors(value: Any) -> list[str]:
    """Jinja2 syntax problems anywhere in a (deep) value, without variables; [] when fine."""
    problems: list[str] = []

    def visit(item: Any) -> None:
        if isinstance(item, str):
            if is_template(item):
                try:
                    _compile_template(item)
                except jinja2.TemplateSyntaxError as error:
                    problems.append(_wrap_jinja_error(error, item).message)
        elif isinstance(item, Mapping):
            for key, sub in item.items():
                visit(key)
                visit(sub)
        elif isinstance(item, (list, tuple)):
            for sub in item:
                visit(sub)

    visit(value)
    return problems


def expression_syntax_errors(expression: str) -> list[str]:
    """Syntax problems of a bare conditional expression (``when:``), [] when fine."""
    if not isinstance(expression, str) or is_template(expression):
        return template_syntax_errors(expression)
    try:
        _compile_expression(expression)
    except jinja2.TemplateSyntaxError as error:
        return [f"syntax error in conditional {expression!r}: {error.message}"]
    return []


# --------------------------------------------------------------------------------------------
# Lazy, layered variables


class LayeredVars(Mapping[str, Any]):
    """Variables from layers, lowest precedence first; a value is templated when read (lazily,
    like Ansible), with a recursion guard that reports a loop ("recursive loop detected in
    template string: ...") as TemplateError.

    Layers are read live: a layer mutated after construction (register, set_fact) is seen.
    Values of a :class:`RenderedLayer` and !unsafe strings are never templated.
    """

    __slots__ = ("_layers", "_factory", "_resolving", "_templar")

    def __init__(
        self,
        layers: Sequence[Mapping[str, Any]],
        templar_factory: Callable[[LayeredVars], Templar] | None = None,
    ):
        self._layers = tuple(layers)
        self._factory = templar_factory
        self._resolving: set[str] = set()
        self._templar: Templar | None = None

    @property
    def layers(self) -> tuple[Mapping[str, Any], ...]:
        return self._layers

    def child(self, *more_layers: Mapping[str, Any]) -> LayeredVars:
        """The same variables with `more_layers` on top (loop item, task vars, block vars)."""
        return LayeredVars(self._layers + tuple(more_layers), self._factory)

    def raw(self, key: str) -> Any:
        """The value as written in the winning layer, not templated; KeyError when absent."""
        for layer in reversed(self._layers):
            if key in layer:
                return layer[key]
        raise KeyError(key)

    def _find(self, key: str) -> tuple[Mapping[str, Any], Any]:
        for layer in reversed(self._layers):
            if key in layer:
                return layer, layer[key]
        raise KeyError(key)

    def default_templar(self) -> Templar:
        if self._templar is None:
            self._templar = self._factory(self) if self._factory else Templar(self)
        return self._templar

    def resolve(self, key: str, templar: Templar | None = None) -> Any:
        """The value of `key` templated with `templar` (the one rendering the referring
        template, so lookups keep its search paths); KeyError when absent."""
        layer, value = self._find(key)
        if isinstance(layer, RenderedLayer) or not _has_template_cached(value):
            return value
        if key in self._resolving:
            source = value if isinstance(value, str) else repr(value)
            raise TemplateError(f"recursive loop detected in template string: {source}")
        self._resolving.add(key)
        try:
            return (templar or self.default_templar()).render(value)
        finally:
            self._resolving.discard(key)

    def __getitem__(self, key: str) -> Any:
        return self.resolve(key)

    def __contains__(self, key: object) -> bool:
        return any(key in layer for layer in self._layers)

    def __iter__(self) -> Iterator[str]:
        seen: set[str] = set()
        for layer in reversed(self._layers):
            for key in layer:
                if key not in seen:
                    seen.add(key)
                    yield key

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def __repr__(self) -> str:
        return f"LayeredVars({len(self._layers)} layers)"


class _Scope(Mapping[str, Any]):
    """What a template sees: the templar's variables, then `vars`, `ansible_check_mode` and the
    environment's globals (lookup, omit, range...). Never copied, so resolution stays lazy."""

    __slots__ = ("templar", "variables", "globals")

    def __init__(self, templar: Templar):
        self.templar = templar
        self.variables = templar.variables
        self.globals = environment().globals

    def __contains__(self, key: object) -> bool:
        return key in self.variables or key in self.globals or key in ("vars", "ansible_check_mode")

    def __getitem__(self, key: str) -> Any:
        variables = self.variables
        if key in variables:
            try:
                if isinstance(variables, LayeredVars):
                    return variables.resolve(key, self.templar)
                return variables[key]
            except TemplateError as error:
                if _is_undefined_message(error.message):
                    # Like Ansible's markers: `x is defined` is false when x's own template uses
                    # an undefined variable, and any other use fails with that variable's name.
                    return AnsibleUndefined(hint=error.message)
                raise
        if key == "vars":
            return variables
        if key == "ansible_check_mode":
            return self.templar.check_mode
        return self.globals[key]

    def __iter__(self) -> Iterator[str]:
        yield from self.variables
        yield from self.globals

    def __len__(self) -> int:
        return len(self.variables) + len(self.globals)


_UNDEFINED_RE = re.compile(r"^'[^']*' is undefined$|has no attribute|has no element")


def _is_undefined_message(message: str) -> bool:
    return bool(_UNDEFINED_RE.search(message))


def is_undefined_error(error: TemplateError) -> bool:
    """Whether rendering failed because a variable (or an attribute of one) is undefined."""
    return _is_undefined_message(error.message)


_ACTIVE: contextvars.ContextVar[Templar | None] = contextvars.ContextVar(
    "orchestr_templar", default=None
)


# --------------------------------------------------------------------------------------------
# The templar


_TRUE_STRINGS = frozenset(("yes", "on", "true", "1", "y", "t"))
_FALSE_STRINGS = frozenset(("no", "off", "false", "0", "n", "f", ""))


def ansible_truth(value: Any) -> bool:
    """Truthiness of a conditional's result: booleans as such, the usual yes/no strings by
    meaning, anything else as Python does."""
    if isinstance(value, bool):
        return value
    if isinstance(value, Undefined):
        str(value)  # raises the undefined error
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE_STRINGS:
            return True
        if text in _FALSE_STRINGS:
            return False
    return bool(value)


def _count_trailing_newlines(text: str) -> int:
    return len(text) - len(text.rstrip("\n"))


class Templar:
    """Renders values and evaluates conditionals with one host's variables."""

    __slots__ = ("variables", "search_paths", "check_mode", "_scope")

    def __init__(
        self,
        variables: Mapping[str, Any],
        *,
        search_paths: Sequence[str] = (),
        check_mode: bool = False,
    ):
        if not isinstance(variables, LayeredVars):
            variables = LayeredVars([variables])
        self.variables: LayeredVars = variables
        self.search_paths = tuple(search_paths)
        self.check_mode = check_mode
        self._scope = _Scope(self)

    def child(self, extra: Mapping[str, Any]) -> Templar:
        """The same templar with `extra` variables layered on top."""
        return Templar(
            self.variables.child(extra),
            search_paths=self.search_paths,
            check_mode=self.check_mode,
        )

    # -- rendering -------------------------------------------------------------------------

    def render(self, value: Any) -> Any:
        """Render `value` deeply; see the module docstring for the rules."""
        if isinstance(value, str):
            if not is_template(value):
                return value
            return self._render_string(value)
        if isinstance(value, dict):
            if not _has_template(value):
                return value
            result = {}
            for key, item in value.items():
                rendered = self.render(item)
                if rendered is OMIT:
                    continue
                result[self.render(key) if isinstance(key, str) else key] = rendered
            return result
        if isinstance(value, (list, tuple)):
            if not _has_template(value):
                return value
            items = [self.render(item) for item in value]
            items = [item for item in items if item is not OMIT]
            return items if isinstance(value, list) else tuple(items)
        return value

    def _run(self, template: jinja2.Template, source: str) -> Any:
        token = _ACTIVE.set(self)
        try:
            context = template.new_context(self._scope, shared=True)
            result = _concat(template.root_render_func(context))
            if isinstance(result, Undefined):
                str(result)  # a bare undefined value: raise its error
            return result
        except TemplateError:
            raise
        except Exception as error:  # Jinja, filters and tests raise anything
            raise _wrap_jinja_error(error, source) from None
        finally:
            _ACTIVE.reset(token)

    def _render_string(
        self, source: str, compile: Callable[[str], jinja2.Template] = _compile_template
    ) -> Any:
        try:
            template = compile(source)
        except jinja2.TemplateSyntaxError as error:
            raise _wrap_jinja_error(error, source) from None
        result = self._run(template, source)
        if isinstance(result, str):
            wanted = _count_trailing_newlines(source)
            if wanted:
                missing = wanted - _count_trailing_newlines(result)
                if missing > 0:
                    result += "\n" * missing
        return result

    def render_file_text(
        self, text: str, *, trim_blocks: bool = True, lstrip_blocks: bool = False
    ) -> str:
        """Render a template file's text (the template module, lookup('template')) to str."""
        if not is_template(text):
            return text
        compile_with_options = functools.partial(
            _compile_file_template, trim_blocks=trim_blocks, lstrip_blocks=lstrip_blocks
        )
        result = self._render_string(text, compile_with_options)
        if result is None:
            return ""
        return result if isinstance(result, str) else str(result)

    # -- conditionals ----------------------------------------------------------------------

    def evaluate(self, condition: Any) -> Any:
        """The value of a bare Jinja expression (``when:``, ``failed_when:``, ``until:``)."""
        if isinstance(condition, UnsafeText):
            return condition
        if not isinstance(condition, str):
            return self.render(condition)
        text = condition.strip()
        if is_template(text):
            # `when: "{{ x }}"`: Ansible warns and uses the rendered value.
            return self.render(text)
        if not text:
            return False
        try:
            template = _compile_expression(text)
        except jinja2.TemplateSyntaxError as error:
            raise TemplateError(f"syntax error in conditional {text!r}: {error.message}") from None
        token = _ACTIVE.set(self)
        try:
            context = template.new_context(self._scope, shared=True)
            for _ in template.root_render_func(context):
                pass
            result = context.vars["result"]
            if isinstance(result, Undefined):
                str(result)
            return result
        except TemplateError:
            raise
        except Exception as error:
            raise _wrap_jinja_error(error, text) from None
        finally:
            _ACTIVE.reset(token)

    def truth(self, conditions: Sequence[Any] | Any) -> bool:
        """Whether every condition holds (a ``when:`` list means "and")."""
        if isinstance(conditions, (str, bool, int)) or conditions is None:
            conditions = () if conditions is None else (conditions,)
        for condition in conditions:
            try:
                holds = ansible_truth(self.evaluate(condition))
            except jinja2.UndefinedError as error:
                raise TemplateError(str(error.message or error)) from None
            if not holds:
                return False
        return True


# --------------------------------------------------------------------------------------------
# Globals: lookup / query / undef


def _active_templar() -> Templar:
    templar = _ACTIVE.get()
    if templar is None:  # pragma: no cover - only reachable when misused outside render
        raise TemplateError("lookup used outside a template")
    return templar


def _lookup(name: str, *terms: Any, wantlist: bool = False, **options: Any) -> Any:
    from orchestr.playbook.lookups import run_lookup

    errors = options.pop("errors", "strict")
    try:
        results = run_lookup(_active_templar(), name, list(terms), options)
    except TemplateError:
        if errors in ("ignore", "warn"):
            return [] if wantlist else None
        raise
    if wantlist:
        return results
    if not results:
        return results
    if len(results) == 1:
        return results[0]
    if all(isinstance(item, str) for item in results):
        return ",".join(results)
    return results


def _query(name: str, *terms: Any, **options: Any) -> Any:
    options.pop("wantlist", None)
    return _lookup(name, *terms, wantlist=True, **options)


def _undef(hint: str | None = None) -> AnsibleUndefined:
    return AnsibleUndefined(hint=hint or "Mandatory variable has not been overridden")
