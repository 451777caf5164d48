"""The few ``ansible`` modules that filter and test plugins import, for controllers without
ansible-core (orchestr does not need it).

Plugin files written for Ansible commonly start with lines such as::

    from ansible.errors import AnsibleFilterError
    from ansible.module_utils.six import string_types
    from ansible.module_utils.common.text.converters import to_text

When ansible-core is installed, those imports get the real thing and this module does nothing.
When it is not, :func:`available` lets such a file import a small stand-in of each module named
in :data:`MODULES` (exceptions, text conversion, six's names, Display). Anything else from
``ansible`` still fails to import, and the plugin file is reported as unusable.
"""

from __future__ import annotations

import collections.abc
import contextlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import types
from collections.abc import Iterator
from typing import Any

# --------------------------------------------------------------------------------------------
# The stand-ins


class AnsibleError(Exception):
    def __init__(self, message: str = "", obj: Any = None, *args: Any, **kwargs: Any) -> None:
        super().__init__(message)
        self.message = message
        self.obj = obj

    def __str__(self) -> str:
        return str(self.message)


class AnsibleRuntimeError(AnsibleError):
    pass


class AnsibleTemplateError(AnsibleRuntimeError):
    pass


class AnsibleFilterError(AnsibleTemplateError):
    pass


class AnsibleFilterTypeError(AnsibleTemplateError, TypeError):
    pass


class AnsibleUndefinedVariable(AnsibleTemplateError):
    pass


class AnsibleOptionsError(AnsibleError):
    pass


class AnsibleAssertionError(AnsibleError, AssertionError):
    pass


class AnsibleLookupError(AnsibleRuntimeError):
    pass


class AnsibleParserError(AnsibleError):
    pass


def to_bytes(obj: Any, encoding: str = "utf-8", errors: str | None = None,
             nonstring: str = "simplerepr") -> bytes:  # fmt: skip
    if isinstance(obj, bytes):
        return obj
    if not isinstance(obj, str):
        if nonstring == "passthru":
            return obj
        if nonstring == "empty":
            return b""
        if nonstring == "strict":
            raise TypeError("obj must be a string type")
        obj = str(obj)
    return obj.encode(encoding, _errors(errors))


def to_text(obj: Any, encoding: str = "utf-8", errors: str | None = None,
            nonstring: str = "simplerepr") -> str:  # fmt: skip
    if isinstance(obj, str):
        return obj
    if isinstance(obj, bytes):
        return obj.decode(encoding, _errors(errors))
    if nonstring == "passthru":
        return obj
    if nonstring == "empty":
        return ""
    if nonstring == "strict":
        raise TypeError("obj must be a string type")
    return str(obj)


def _errors(errors: str | None) -> str:
    if errors in (None, "surrogate_or_strict", "surrogate_or_replace", "surrogate_then_replace"):
        return "surrogateescape"
    return errors


def boolean(value: Any, strict: bool = True) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower() if value is not None else ""
    if text in ("y", "yes", "on", "1", "true", "t", "1.0"):
        return True
    if text in ("n", "no", "off", "0", "false", "f", "0.0", "") and (text or not strict):
        return False
    if strict:
        raise TypeError(f"The value '{value}' is not a valid boolean.")
    return False


def is_string(value: Any) -> bool:
    return isinstance(value, str | bytes)


def is_iterable(value: Any, include_strings: bool = False) -> bool:
    if is_string(value):
        return include_strings
    return isinstance(value, collections.abc.Iterable)


def is_sequence(value: Any, include_strings: bool = False) -> bool:
    if is_string(value):
        return include_strings
    return isinstance(value, collections.abc.Sequence)


class Display:
    """Messages of a plugin go to stderr; verbose ones are dropped."""

    verbosity = 0

    def display(self, msg: str, *args: Any, **kwargs: Any) -> None:
        print(msg, file=sys.stderr)

    def warning(self, msg: str, *args: Any, **kwargs: Any) -> None:
        print(f"[WARNING]: {msg}", file=sys.stderr)

    def deprecated(self, msg: str, *args: Any, **kwargs: Any) -> None:
        print(f"[DEPRECATION WARNING]: {msg}", file=sys.stderr)

    def error(self, msg: Any, *args: Any, **kwargs: Any) -> None:
        print(f"[ERROR]: {msg}", file=sys.stderr)

    def _quiet(self, msg: str, *args: Any, **kwargs: Any) -> None:
        return None

    debug = v = vv = vvv = vvvv = vvvvv = verbose = _quiet


_TEXT = {"to_bytes": to_bytes, "to_text": to_text, "to_native": to_text}
_ERRORS = {
    cls.__name__: cls
    for cls in (
        AnsibleError, AnsibleRuntimeError, AnsibleTemplateError, AnsibleFilterError,
        AnsibleFilterTypeError, AnsibleUndefinedVariable, AnsibleOptionsError,
        AnsibleAssertionError, AnsibleLookupError, AnsibleParserError,
    )
}  # fmt: skip
_ABC = {name: getattr(collections.abc, name) for name in collections.abc.__all__}
_SIX = {
    "PY2": False,
    "PY3": True,
    "string_types": (str,),
    "text_type": str,
    "binary_type": bytes,
    "integer_types": (int,),
    "class_types": (type,),
    "iteritems": lambda d, **kw: iter(d.items(**kw)),
    "iterkeys": lambda d, **kw: iter(d.keys(**kw)),
    "itervalues": lambda d, **kw: iter(d.values(**kw)),
    "reraise": None,  # filled below
    "with_metaclass": lambda meta, *bases: meta("_Base", bases or (object,), {}),
}


def _reraise(tp: Any, value: BaseException | None, tb: Any = None) -> None:
    if value is None:
        value = tp()
    raise value.with_traceback(tb)


_SIX["reraise"] = _reraise

# module name -> its names ({} for packages that only hold submodules)
MODULES: dict[str, dict[str, Any]] = {
    "ansible": {"__version__": "2.19.0"},
    "ansible.errors": _ERRORS,
    "ansible.module_utils": {},
    "ansible.module_utils.six": _SIX,
    "ansible.module_utils._text": _TEXT,
    "ansible.module_utils.common": {},
    "ansible.module_utils.common.text": {},
    "ansible.module_utils.common.text.converters": _TEXT,
    "ansible.module_utils.common._collections_compat": _ABC,
    "ansible.module_utils.common.collections": {
        "is_string": is_string,
        "is_iterable": is_iterable,
        "is_sequence": is_sequence,
    },
    "ansible.module_utils.parsing": {},
    "ansible.module_utils.parsing.convert_bool": {
        "boolean": boolean,
        "BOOLEANS_TRUE": frozenset(("y", "yes", "on", "1", "true", "t", 1, 1.0, True)),
        "BOOLEANS_FALSE": frozenset(("n", "no", "off", "0", "false", "f", 0, 0.0, False)),
    },
    "ansible.utils": {},
    "ansible.utils.display": {"Display": Display},
}
_PACKAGES = {name.rpartition(".")[0] for name in MODULES if "." in name}


class _Finder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, fullname: str, path: Any, target: Any = None):  # type: ignore[override]
        if fullname not in MODULES:
            return None
        return importlib.machinery.ModuleSpec(fullname, self, is_package=fullname in _PACKAGES)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType | None:
        return None

    def exec_module(self, module: types.ModuleType) -> None:
        module.__dict__.update(MODULES[module.__name__])
        if module.__name__ in _PACKAGES:
            module.__path__ = []


_FINDER = _Finder()


def real_ansible() -> bool:
    """Whether ansible-core itself can be imported (then no stand-in is ever used)."""
    try:
        spec = importlib.util.find_spec("ansible")
    except (ImportError, ValueError):
        return False
    return spec is not None and spec.loader is not _FINDER


@contextlib.contextmanager
def available() -> Iterator[None]:
    """While inside, `import ansible.errors` & co. work even without ansible-core."""
    if real_ansible():
        yield
        return
    sys.meta_path.append(_FINDER)
    try:
        yield
    finally:
        with contextlib.suppress(ValueError):
            sys.meta_path.remove(_FINDER)
