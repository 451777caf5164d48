"""The filters and tests Ansible playbooks use, on top of Jinja2's builtins (which stay).

Each one follows ansible-core 2.19's behaviour (checked against it in the unit tests); where we
differ on purpose it says so: the set filters (union, intersect, difference,
symmetric_difference) keep the input order instead of Python set order, which Ansible leaves
arbitrary.

Every one is also reachable as ``ansible.builtin.NAME`` and ``ansible.legacy.NAME``, and the
playbook's filter_plugins/ and test_plugins/ come first for short names: names.py resolves
them, plugins.py loads the plugin files.
"""

from __future__ import annotations

import base64
import datetime
import glob
import hashlib
import itertools
import json
import math
import ntpath
import operator
import os
import random as _random
import re
import shlex
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterable, Mapping, MutableMapping, Sequence
from typing import Any

import yaml
from jinja2 import pass_environment
from jinja2.filters import do_unique
from jinja2.runtime import Undefined

# --------------------------------------------------------------------------------------------
# helpers


class FilterError(ValueError):
    """A filter or test was given something it cannot handle; the templar reports the message."""


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "surrogateescape")
    return value if isinstance(value, str) else str(value)


def _is_sequence(value: Any) -> bool:
    return isinstance(value, Sequence | set | frozenset) and not isinstance(value, str | bytes)


_TRUE = frozenset(("yes", "on", "true", "1"))
_FALSE = frozenset(("no", "off", "false", "0"))


def to_bool(value: Any) -> bool:
    """Ansible's ``bool`` filter: yes/on/true/1 and no/off/false/0 (any case), True/False, 1/0;
    anything else is False (Ansible warns that this fallback is deprecated)."""
    if isinstance(value, str):
        check: Any = value.lower()
    elif isinstance(value, int):
        check = str(value).lower()
    else:
        check = value
    try:
        if check in _TRUE:
            return True
        if check in _FALSE:
            return False
        return bool(check == 1)
    except TypeError:
        return False


def _plain(value: Any) -> Any:
    """Containers as plain dict/list (Mappings such as LayeredVars included) for serialisers."""
    if isinstance(value, Mapping):
        return {_plain(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v) for v in value]
    if isinstance(value, str) and type(value) is not str:
        return str(value)
    return value


class _JsonEncoder(json.JSONEncoder):
    def default(self, o: Any) -> Any:
        if isinstance(o, Mapping):
            return dict(o)
        if isinstance(o, set | frozenset | tuple):
            return list(o)
        if isinstance(o, bytes):
            return o.decode("utf-8", "surrogateescape")
        if hasattr(o, "isoformat"):
            return o.isoformat()
        return super().default(o)


# --------------------------------------------------------------------------------------------
# serialisation


def to_json(value: Any, *_args: Any, **kwargs: Any) -> str:
    kwargs.pop("vault_to_text", None)
    kwargs.pop("preprocess_unsafe", None)
    kwargs.pop("profile", None)
    return json.dumps(_plain(value), cls=_JsonEncoder, **kwargs)


def to_nice_json(value: Any, indent: int = 4, sort_keys: bool = True, **kwargs: Any) -> str:
    kwargs.pop("separators", None)
    return to_json(value, indent=indent, sort_keys=sort_keys, separators=(",", ": "), **kwargs)


def from_json(value: Any, **kwargs: Any) -> Any:
    kwargs.pop("profile", None)
    return json.loads(value, **kwargs)


class _YamlDumper(yaml.SafeDumper):
    pass


_YamlDumper.add_multi_representer(
    str, lambda dumper, data: dumper.represent_str(str(data))
)  # str subclasses (!unsafe text) as plain strings
_YamlDumper.add_representer(tuple, lambda dumper, data: dumper.represent_list(list(data)))


def to_yaml(value: Any, *_args: Any, default_flow_style: bool | None = None, **kwargs: Any) -> str:
    return yaml.dump(
        _plain(value),
        Dumper=_YamlDumper,
        allow_unicode=True,
        default_flow_style=default_flow_style,
        **kwargs,
    )


def to_nice_yaml(
    value: Any, indent: int = 4, *_args: Any, default_flow_style: bool = False, **kwargs: Any
) -> str:
    return to_yaml(value, indent=indent, default_flow_style=default_flow_style, **kwargs)


def from_yaml(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, str):
        return yaml.safe_load(value)
    return value


def from_yaml_all(value: Any) -> Any:
    if value is None:
        return []
    if isinstance(value, str):
        return list(yaml.safe_load_all(value))
    return value


# --------------------------------------------------------------------------------------------
# strings and regular expressions


def _flags(ignorecase: bool = False, multiline: bool = False) -> int:
    return (re.I if ignorecase else 0) | (re.M if multiline else 0)


def regex_replace(
    value: Any = "",
    pattern: str = "",
    replacement: str = "",
    ignorecase: bool = False,
    multiline: bool = False,
    count: int = 0,
    mandatory_count: int = 0,
) -> str:
    text = _text(value)
    output, subs = re.compile(pattern, _flags(ignorecase, multiline)).subn(
        replacement, text, count=count
    )
    if mandatory_count and mandatory_count != subs:
        raise FilterError(
            f"'{pattern}' should match {mandatory_count} times, but matches {subs} times in '{text}'"
        )
    return output


def regex_findall(
    value: Any, regex: str, multiline: bool = False, ignorecase: bool = False
) -> list:
    return re.findall(regex, _text(value), _flags(ignorecase, multiline))


def regex_search(value: Any, regex: str, *args: str, **kwargs: Any) -> Any:
    groups: list[str | int] = []
    for arg in args:
        named = re.match(r"\\g<(\S+)>", arg)
        numbered = re.match(r"\\(\d+)", arg)
        if named:
            groups.append(named.group(1))
        elif numbered:
            groups.append(int(numbered.group(1)))
        else:
            raise FilterError("Unknown argument")
    flags = _flags(bool(kwargs.get("ignorecase")), bool(kwargs.get("multiline")))
    found = re.search(regex, _text(value), flags)
    if not found:
        return None
    if not groups:
        return found.group()
    return [found.group(group) for group in groups]


def regex_escape(value: Any, re_type: str = "python") -> str:
    text = _text(value)
    if re_type == "python":
        return re.escape(text)
    if re_type == "posix_basic":
        return re.sub(r"([].[^$*\\])", r"\\\1", text)
    raise FilterError(f"Regex type ({re_type}) not yet implemented")


def split(value: Any, separator: str | None = None, maxsplit: int = -1) -> list[str]:
    return _text(value).split(separator, maxsplit)


def quote(value: Any) -> str:
    return shlex.quote(_text("" if value is None else value))


def ternary(value: Any, true_val: Any, false_val: Any, none_val: Any = None) -> Any:
    if value is None and none_val is not None:
        return none_val
    return true_val if bool(value) else false_val


def mandatory(value: Any, msg: str | None = None) -> Any:
    if isinstance(value, Undefined):
        if msg is not None:
            raise FilterError(_text(msg))
        name = value._undefined_name
        label = f"{name!r} " if name is not None else ""
        raise FilterError(f"Mandatory variable {label}not defined.")
    return value


def b64encode(value: Any, encoding: str = "utf-8", urlsafe: bool = False) -> str:
    data = value if isinstance(value, bytes) else _text(value).encode(encoding, "surrogateescape")
    encode = base64.urlsafe_b64encode if urlsafe else base64.b64encode
    return encode(data).decode("ascii")


def b64decode(value: Any, encoding: str = "utf-8", urlsafe: bool = False) -> str:
    data = value if isinstance(value, bytes) else _text(value).encode("utf-8", "surrogateescape")
    decode = base64.urlsafe_b64decode if urlsafe else base64.b64decode
    return decode(data).decode(encoding, "surrogateescape")


def get_hash(value: Any, hashtype: str = "sha1") -> str:
    try:
        digest = hashlib.new(hashtype)
    except ValueError as error:
        raise FilterError(f"unsupported hash type {hashtype!r}") from error
    data = value if isinstance(value, bytes) else _text(value).encode("utf-8", "surrogateescape")
    digest.update(data)
    return digest.hexdigest()


def checksum(value: Any) -> str:
    return get_hash(value, "sha1")


def md5(value: Any) -> str:
    return get_hash(value, "md5")


def sha1(value: Any) -> str:
    return get_hash(value, "sha1")


def type_debug(value: Any) -> str:
    return type(value).__name__


# --------------------------------------------------------------------------------------------
# paths


def _path_filter(function: Callable[[str], Any]) -> Callable[[Any], Any]:
    def apply(value: Any) -> Any:
        return function(_text(value))

    apply.__name__ = function.__name__
    return apply


def path_join(paths: Any) -> str:
    if isinstance(paths, str):
        return os.path.join(paths)
    if _is_sequence(paths):
        return os.path.join(*[_text(p) for p in paths])
    raise FilterError(f"|path_join expects string or sequence, got {type(paths).__name__} instead.")


def splitext(value: Any) -> list[str]:
    # Ansible returns the tuple; as a template's value it shows as a list.
    return list(os.path.splitext(_text(value)))


# --------------------------------------------------------------------------------------------
# lists and dicts


def flatten(values: Any, levels: int | None = None, skip_nulls: bool = True) -> list:
    result: list = []
    for element in values:
        if skip_nulls and element in (None, "None", "null"):
            continue
        if _is_sequence(element):
            if levels is None:
                result.extend(flatten(element, skip_nulls=skip_nulls))
            elif levels >= 1:
                result.extend(flatten(element, levels=int(levels) - 1, skip_nulls=skip_nulls))
            else:
                result.append(element)
        else:
            result.append(element)
    return result


def _ordered_unique(values: Iterable[Any]) -> list:
    result: list = []
    for value in values:
        if value not in result:
            result.append(value)
    return result


def union(a: Iterable[Any], b: Iterable[Any]) -> list:
    return _ordered_unique(itertools.chain(a, b))


def intersect(a: Iterable[Any], b: Iterable[Any]) -> list:
    b = list(b)
    return _ordered_unique(x for x in a if x in b)


def difference(a: Iterable[Any], b: Iterable[Any]) -> list:
    b = list(b)
    return _ordered_unique(x for x in a if x not in b)


def symmetric_difference(a: Iterable[Any], b: Iterable[Any]) -> list:
    a, b = list(a), list(b)
    both = intersect(a, b)
    return [x for x in union(a, b) if x not in both]


@pass_environment
def unique(
    environment: Any, values: Any, case_sensitive: bool | None = None, attribute: Any = None
):
    # Ansible hands Jinja's unique bool(case_sensitive): case-insensitive unless asked.
    return list(
        do_unique(environment, values, case_sensitive=bool(case_sensitive), attribute=attribute)
    )


def zip_(*lists: Any) -> list:
    return [list(group) for group in zip(*lists, strict=False)]


def zip_longest(*lists: Any, fillvalue: Any = None) -> list:
    return [list(group) for group in itertools.zip_longest(*lists, fillvalue=fillvalue)]


def product(*lists: Any, repeat: int = 1) -> list:
    return [list(group) for group in itertools.product(*lists, repeat=repeat)]


def permutations(values: Any, r: int | None = None) -> list:
    return [list(group) for group in itertools.permutations(values, r)]


def combinations(values: Any, r: int) -> list:
    return [list(group) for group in itertools.combinations(values, r)]


def dict2items(value: Any, key_name: str = "key", value_name: str = "value") -> list[dict]:
    if not isinstance(value, Mapping):
        raise FilterError(f"dict2items requires a dictionary, got {type(value).__name__} instead.")
    return [{key_name: k, value_name: v} for k, v in value.items()]


def items2dict(value: Any, key_name: str = "key", value_name: str = "value") -> dict:
    if not _is_sequence(value):
        raise FilterError(f"items2dict requires a list, got {type(value).__name__} instead.")
    result = {}
    for item in value:
        if not isinstance(item, Mapping):
            raise FilterError(
                f"items2dict requires a list of dictionaries, got {type(item).__name__} instead."
            )
        try:
            result[item[key_name]] = item[value_name]
        except KeyError as error:
            raise FilterError(
                f"items2dict requires each dictionary to have keys {key_name!r} and {value_name!r}"
            ) from error
    return result


_LIST_MERGE = ("replace", "keep", "append", "prepend", "append_rp", "prepend_rp")


def _merge(low: Mapping, high: Mapping, recursive: bool, list_merge: str) -> dict:
    result = dict(low)
    for key, high_value in high.items():
        if key not in result:
            result[key] = high_value
            continue
        low_value = result[key]
        if isinstance(low_value, Mapping) and isinstance(high_value, Mapping):
            result[key] = (
                _merge(low_value, high_value, recursive, list_merge) if recursive else high_value
            )
        elif isinstance(low_value, list) and isinstance(high_value, list):
            if list_merge == "replace":
                result[key] = high_value
            elif list_merge == "keep":
                pass
            elif list_merge == "append":
                result[key] = low_value + high_value
            elif list_merge == "prepend":
                result[key] = high_value + low_value
            elif list_merge == "append_rp":
                result[key] = [x for x in low_value if x not in high_value] + high_value
            else:  # prepend_rp
                result[key] = high_value + [x for x in low_value if x not in high_value]
        else:
            result[key] = high_value
    return result


def combine(*terms: Any, recursive: bool = False, list_merge: str = "replace", **extra: Any):
    if extra:
        raise FilterError("'recursive' and 'list_merge' are the only valid keyword arguments")
    if list_merge not in _LIST_MERGE:
        raise FilterError(
            "'list_merge' argument can only be equal to " + ", ".join(repr(m) for m in _LIST_MERGE)
        )
    dicts = flatten(terms, levels=1)
    for item in dicts:
        if not isinstance(item, Mapping):
            raise FilterError(f"combine expects dictionaries, got {type(item).__name__}")
    if not dicts:
        return {}
    result = dict(dicts[0])
    for item in dicts[1:]:
        result = _merge(result, item, recursive, list_merge)
    return result


@pass_environment
def extract(environment: Any, item: Any, container: Any, morekeys: Any = None) -> Any:
    if morekeys is None:
        keys = [item]
    elif isinstance(morekeys, list):
        keys = [item, *morekeys]
    else:
        keys = [item, morekeys]
    value = container
    for key in keys:
        value = environment.getitem(value, key)
    return value


@pass_environment
def random_filter(environment: Any, end: Any, start: int | None = None, step: int | None = None,
                  seed: Any = None) -> Any:  # fmt: skip
    generator = _random.Random(seed) if seed is not None else _random.SystemRandom()
    if isinstance(end, int):
        return generator.randrange(start or 0, end, step or 1)
    if hasattr(end, "__iter__"):
        values = list(end)
        if not values:
            raise FilterError("random expects a non-empty sequence")
        return generator.choice(values)
    raise FilterError("random can only be used on sequences and integers")


def shuffle(values: Any, seed: Any = None) -> list:
    values = list(values)
    (_random.Random(seed) if seed else _random.SystemRandom()).shuffle(values)
    return values


# --------------------------------------------------------------------------------------------
# comment


_COMMENT_STYLES: dict[str, dict[str, str]] = {
    "plain": {"decoration": "# "},
    "erlang": {"decoration": "% "},
    "c": {"decoration": "// "},
    "cblock": {"beginning": "/*", "decoration": " * ", "end": " */"},
    "xml": {"beginning": "<!--", "decoration": " - ", "end": "-->"},
}


def comment(text: Any, style: str = "plain", **options: Any) -> str:
    """Ansible's ``comment`` filter: `text` as a comment block of a language's style.

    The block is: ``beginning`` (cblock ``/*``, xml ``<!--``) on its own line, ``prefix`` lines
    (``prefix_count`` of them; default: the decoration without trailing spaces), each line of
    `text` after ``decoration`` (``# ``, ``% ``, ``// ``, `` * ``, `` - ``; an empty line gets
    the decoration without trailing spaces, except the last one), ``postfix`` lines
    (``postfix_count``, same default as the prefix), then ``end``. Lines are split and joined on
    ``newline`` ("\n"). An option given explicitly wins over the style's, even when empty or
    None (``beginning=''`` drops cblock's ``/*``). Other keywords are ignored, as in Ansible; the
    documented style 'decoration' is refused by Ansible 2.19 ("Invalid style") and here too.
    """
    if style not in _COMMENT_STYLES:
        raise FilterError(f"Invalid style '{style}'.")
    settings: dict[str, Any] = {"newline": "\n", "beginning": "", "end": "",
                                "prefix_count": 1, "postfix_count": 1}  # fmt: skip
    settings.update(_COMMENT_STYLES[style])
    settings.update(options)
    decoration = settings["decoration"]
    if not isinstance(decoration, str):
        raise FilterError(f"comment: decoration must be a string, got {type(decoration).__name__}")
    bare = decoration.rstrip()
    prefix = settings.get("prefix", bare)
    postfix = settings.get("postfix", bare)
    newline = settings["newline"]
    if not isinstance(text, str):
        raise FilterError(f"comment expects a string, got {type(text).__name__}")
    if not isinstance(newline, str):
        raise FilterError("comment: newline must be a string")
    try:
        prefix_count = int(settings["prefix_count"])
    except (TypeError, ValueError) as error:
        raise FilterError(f"comment: prefix_count must be a number: {error}") from None
    postfix_count = settings["postfix_count"]
    if not isinstance(postfix_count, int):
        raise FilterError("comment: postfix_count must be an integer")
    if postfix is None:
        raise FilterError("comment: postfix must be a string")

    beginning = settings["beginning"]
    head = f"{beginning}{newline}" if beginning else ""
    if not prefix:
        lead = ""
    elif prefix == newline:
        lead = newline * prefix_count
    else:
        lead = f"{prefix}{newline}" * prefix_count
    body = decoration + text.replace(newline, newline + decoration)
    body = body.replace(decoration + newline, bare + newline)
    tail = newline.join(["", *[str(postfix)] * postfix_count])
    end = settings["end"]
    foot = f"{newline}{end}" if end else ""
    return f"{head}{lead}{body}{tail}{foot}"


# --------------------------------------------------------------------------------------------
# sizes, numbers, dates, URLs


# Largest first: human_readable picks the first unit the size reaches.
_SIZES = (("Y", 1 << 80), ("Z", 1 << 70), ("E", 1 << 60), ("P", 1 << 50), ("T", 1 << 40),
          ("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10), ("B", 1))  # fmt: skip
_SIZE_WORDS = {"Y": "yotta", "Z": "zetta", "E": "exa", "P": "peta", "T": "tera", "G": "giga",
               "M": "mega", "K": "kilo", "B": ""}  # fmt: skip


def human_readable(size: Any, isbits: bool = False, unit: str | None = None) -> str:
    """1536 -> '1.50 KB'; isbits: 'Kb' and 'bits'; unit forces the unit (its first letter)."""
    try:
        value = float(size) if not isinstance(size, str) else size
        chosen = None
        for letter, limit in _SIZES:
            if (unit is None and value >= limit) or (unit is not None and unit.upper() == letter):
                chosen = (letter, limit)
                break
        letter, limit = chosen or _SIZES[-1]
        if limit == 1:
            suffix = "bits" if isbits else "Bytes"
        else:
            suffix = letter + ("b" if isbits else "B")
        return f"{value / limit:.2f} {suffix}"
    except (TypeError, ValueError, AttributeError) as error:
        raise FilterError(f"human_readable() failed on bad input: {error}") from None


_HUMAN_SIZE = re.compile(r"^([0-9]*\.?[0-9]+)(?:\s*([A-Za-z]+))?\s*$")


def _human_to_bytes(number: Any, default_unit: str | None, isbits: bool) -> int:
    found = _HUMAN_SIZE.match(str(number))
    if found is None:
        raise FilterError(f"human_to_bytes() can't interpret following string: {number}")
    amount = float(found.group(1))
    unit = found.group(2) or default_unit
    if unit is None:
        return int(round(amount))
    letter = unit[0].upper()
    limits = dict(_SIZES)
    if letter not in limits:
        raise FilterError(
            f"human_to_bytes() failed to convert {number} (unit = {unit}). The suffix must be "
            "one of " + ", ".join(k for k, _ in _SIZES)
        )
    marker, word = ("b", "bit") if isbits else ("B", "byte")
    if len(unit) > 1:
        if letter == "B":
            valid = unit.lower() == word
            expected = f"{marker} or {word}"
        else:
            valid = unit == letter + marker or unit.lower() == _SIZE_WORDS[letter] + word
            expected = f"{letter}{marker} or {letter}"
        if not valid:
            raise FilterError(
                f"human_to_bytes() failed to convert {number}. Value is not a valid string "
                f"(expect {expected})"
            )
    return int(round(amount * limits[letter]))


def human_to_bytes(size: Any, default_unit: str | None = None, isbits: bool = False) -> int:
    """'1 KB' -> 1024, '2 Mb' (isbits) -> 2097152, '10' with default_unit='M' -> 10485760."""
    try:
        return _human_to_bytes(size, default_unit, isbits)
    except FilterError as error:
        raise FilterError(f"human_to_bytes() can't interpret the input: {error}") from None


def logarithm(x: Any, base: Any = math.e) -> float:
    try:
        return math.log10(x) if base == 10 else math.log(x, base)
    except TypeError as error:
        raise FilterError(f"log() can only be used on numbers: {error}") from None


def power(x: Any, y: Any) -> float:
    try:
        return math.pow(x, y)
    except TypeError as error:
        raise FilterError(f"pow() can only be used on numbers: {error}") from None


def inversepower(x: Any, base: Any = 2) -> float:
    try:
        return math.sqrt(x) if base == 2 else math.pow(x, 1.0 / float(base))
    except (TypeError, ValueError) as error:
        raise FilterError(f"root() can only be used on numbers: {error}") from None


_UUID_NAMESPACE = "361E6D51-FAEC-444A-9079-341386DA8E2E"  # Ansible's namespace for to_uuid


def to_uuid(value: Any, namespace: Any = _UUID_NAMESPACE) -> str:
    try:
        space = namespace if isinstance(namespace, uuid.UUID) else uuid.UUID(str(namespace))
    except ValueError as error:
        raise FilterError(f"Invalid value '{namespace}' for 'namespace': {error}") from None
    return str(uuid.uuid5(space, _text(value)))


def to_datetime(value: Any, format: str = "%Y-%m-%d %H:%M:%S") -> datetime.datetime:
    try:
        return datetime.datetime.strptime(_text(value), format)
    except ValueError as error:
        raise FilterError(str(error)) from None


def strftime(string_format: Any, second: Any = None, utc: bool = False) -> str:
    convert = time.gmtime if utc else time.localtime
    if second is not None:
        try:
            second = float(second)
        except (TypeError, ValueError):
            raise FilterError(f"Invalid value for epoch value ({second})") from None
    return time.strftime(_text(string_format), convert(second))


def urldecode(value: Any) -> str:
    return urllib.parse.unquote_plus(_text(value))


_URL_FIELDS = ("fragment", "hostname", "netloc", "password", "path", "port", "query", "scheme",
               "username")  # fmt: skip


def urlsplit(value: Any, query: str = "") -> Any:
    parts = urllib.parse.urlsplit(_text(value))
    fields = {name: getattr(parts, name) for name in _URL_FIELDS}
    if not query:
        return fields
    if query not in fields:
        raise FilterError(f"urlsplit: unknown URL component: {query}")
    return fields[query]


def win_splitdrive(value: Any) -> list[str]:
    return list(ntpath.splitdrive(_text(value)))


def commonpath(paths: Any) -> str:
    if not _is_sequence(paths):
        raise FilterError(f"|commonpath expects sequence, got {type(paths).__name__} instead.")
    try:
        return os.path.commonpath(list(paths))
    except (TypeError, ValueError) as error:
        raise FilterError(str(error)) from None


def fileglob(pathname: Any) -> list[str]:
    return [path for path in glob.glob(_text(pathname)) if os.path.isfile(path)]


def subelements(obj: Any, subelements: Any, skip_missing: bool = False) -> list:
    """[item, sub] for each sub of each item's list at the dotted path `subelements`."""
    if isinstance(obj, Mapping):
        elements = list(obj.values())
    elif isinstance(obj, list):
        elements = list(obj)
    else:
        raise FilterError("obj must be a list of dicts or a nested dict")
    if isinstance(subelements, list):
        keys = list(subelements)
    elif isinstance(subelements, str):
        keys = subelements.split(".")
    else:
        raise FilterError("subelements must be a list or a string")
    results = []
    for element in elements:
        values: Any = element
        missing = False
        for key in keys:
            try:
                values = values[key]
            except (KeyError, TypeError, IndexError):
                if skip_missing:
                    missing = True
                    break
                raise FilterError(
                    f"could not find {key!r} key in iterated item {values!r}"
                ) from None
        if missing:
            continue
        if not isinstance(values, list):
            raise FilterError(f"the key {keys[-1]!r} should point to a list, got {values!r}")
        results.extend([element, value] for value in values)
    return results


def rekey_on_member(data: Any, key: Any, duplicates: str = "error") -> dict:
    if duplicates not in ("error", "overwrite"):
        raise FilterError(
            f"duplicates parameter to rekey_on_member has unknown value: {duplicates}"
        )
    if isinstance(data, Mapping):
        items = list(data.values())
    elif isinstance(data, list):
        items = data
    else:
        raise FilterError(f"Type is not a valid list, set, or dict: {type(data).__name__}")
    result: dict = {}
    for item in items:
        if not isinstance(item, Mapping):
            raise FilterError(f"List item is not a valid dict: {item!r}")
        if key not in item:
            raise FilterError(f"Key {key} was not found")
        new_key = item[key]
        if new_key in result and duplicates == "error":
            raise FilterError(f"Key {new_key} is not unique, cannot correctly turn into dict")
        result[new_key] = item
    return result


def password_hash(password: Any, hashtype: str = "sha512", salt: Any = None,
                  salt_size: Any = None, rounds: Any = None, ident: Any = None) -> str:  # fmt: skip
    """With passlib installed, as Ansible; without it Ansible 2.19 fails and so do we."""
    try:
        from passlib import hash as passlib_hash  # type: ignore[import-not-found]
    except ImportError as error:
        raise FilterError(
            f"Unable to encrypt nor hash, passlib must be installed: {error}"
        ) from None
    names = {"md5": "md5_crypt", "blowfish": "bcrypt", "sha256": "sha256_crypt",
             "sha512": "sha512_crypt"}  # fmt: skip
    scheme = getattr(passlib_hash, names.get(hashtype, hashtype), None)
    if scheme is None:
        raise FilterError(f"{hashtype} is not in the list of supported passlib algorithms")
    settings: dict[str, Any] = {}
    if salt is not None:
        settings["salt"] = _text(salt)
    if salt_size is not None:
        settings["salt_size"] = int(salt_size)
    if rounds is not None:
        settings["rounds"] = int(rounds)
    if ident is not None:
        settings["ident"] = ident
    return scheme.using(**settings).hash(_text(password))


def vault(secret: Any, vaultsecret: Any, salt: Any = None, vault_id: str = "filter_default",
          wrap_object: bool = False, vaultid: str | None = None) -> str:  # fmt: skip
    """`secret` encrypted with the password `vaultsecret`, as ansible-vault's envelope (vault id
    label ``filter_default`` unless given; a given `salt` makes the output reproducible)."""
    from orchestr.vault.format import VaultFormatError, VaultPasswordError, encrypt

    try:
        return encrypt(
            _text(secret),
            _text(vaultsecret),
            label=vaultid or vault_id,
            salt=_text(salt).encode("utf-8") if salt else None,
        )
    except (VaultFormatError, VaultPasswordError) as error:
        raise FilterError(f"Unable to encrypt: {error}") from None


def unvault(value: Any, secret: Any, vault_id: str = "filter_default",
            vaultid: str | None = None) -> str:  # fmt: skip
    """The plaintext of a vault envelope (or of an inline !vault value, already decrypted)."""
    from orchestr.vault.format import VaultFormatError, VaultPasswordError, decrypt, is_encrypted
    from orchestr.vault.secret import VaultSecret

    if isinstance(value, VaultSecret):
        return str(value)
    text = _text(value)
    if not is_encrypted(text.lstrip()):
        raise FilterError(f"Vault value expected, got {type(value).__name__}")
    try:
        return decrypt(text.strip(), _text(secret)).decode("utf-8", "surrogateescape")
    except (VaultFormatError, VaultPasswordError) as error:
        raise FilterError(f"Unable to decrypt: {error}") from None


FILTERS: dict[str, Callable[..., Any]] = {
    # serialisation
    "to_json": to_json,
    "to_nice_json": to_nice_json,
    "from_json": from_json,
    "to_yaml": to_yaml,
    "to_nice_yaml": to_nice_yaml,
    "from_yaml": from_yaml,
    "from_yaml_all": from_yaml_all,
    # text
    "bool": to_bool,
    "regex_replace": regex_replace,
    "regex_findall": regex_findall,
    "regex_search": regex_search,
    "regex_escape": regex_escape,
    "split": split,
    "quote": quote,
    "ternary": ternary,
    "mandatory": mandatory,
    "b64encode": b64encode,
    "b64decode": b64decode,
    "hash": get_hash,
    "checksum": checksum,
    "md5": md5,
    "sha1": sha1,
    "type_debug": type_debug,
    # paths
    "basename": _path_filter(os.path.basename),
    "dirname": _path_filter(os.path.dirname),
    "expanduser": _path_filter(os.path.expanduser),
    "expandvars": _path_filter(os.path.expandvars),
    "realpath": _path_filter(os.path.realpath),
    "relpath": _path_filter(os.path.relpath),
    "normpath": _path_filter(os.path.normpath),
    "win_basename": _path_filter(ntpath.basename),
    "win_dirname": _path_filter(ntpath.dirname),
    "splitext": splitext,
    "path_join": path_join,
    # lists and dicts
    "flatten": flatten,
    "union": union,
    "intersect": intersect,
    "difference": difference,
    "symmetric_difference": symmetric_difference,
    "unique": unique,
    "zip": zip_,
    "zip_longest": zip_longest,
    "product": product,
    "permutations": permutations,
    "combinations": combinations,
    "dict2items": dict2items,
    "items2dict": items2dict,
    "combine": combine,
    "extract": extract,
    "random": random_filter,
    "shuffle": shuffle,
    "subelements": subelements,
    "rekey_on_member": rekey_on_member,
    # text blocks, sizes, numbers, dates, URLs, files
    "comment": comment,
    "human_readable": human_readable,
    "human_to_bytes": human_to_bytes,
    "log": logarithm,
    "pow": power,
    "root": inversepower,
    "to_uuid": to_uuid,
    "to_datetime": to_datetime,
    "strftime": strftime,
    "urldecode": urldecode,
    "urlsplit": urlsplit,
    "win_splitdrive": win_splitdrive,
    "commonpath": commonpath,
    "fileglob": fileglob,
    "password_hash": password_hash,
    "vault": vault,
    "unvault": unvault,
}


# --------------------------------------------------------------------------------------------
# tests


def _result(value: Any, test: str) -> Mapping:
    if not isinstance(value, Mapping):
        raise FilterError(f"The '{test}' test expects a dictionary")
    return value


def failed(result: Any) -> bool:
    return bool(_result(result, "failed").get("failed"))


def succeeded(result: Any) -> bool:
    return not failed(result)


def changed(result: Any) -> bool:
    result = _result(result, "changed")
    if "changed" in result:
        return bool(result["changed"])
    results = result.get("results")
    if isinstance(results, list) and results and isinstance(results[0], Mapping):
        return any(bool(item.get("changed")) for item in results)
    return False


def skipped(result: Any) -> bool:
    return bool(_result(result, "skipped").get("skipped"))


def unreachable(result: Any) -> bool:
    return bool(_result(result, "unreachable").get("unreachable"))


def reachable(result: Any) -> bool:
    return not unreachable(result)


def finished(result: Any) -> bool:
    result = _result(result, "finished")
    return bool(result.get("finished", True))


def regex(value: Any = "", pattern: str = "", ignorecase: bool = False, multiline: bool = False,
          match_type: str = "search") -> bool:  # fmt: skip
    compiled = re.compile(pattern, _flags(ignorecase, multiline))
    method = getattr(compiled, match_type, compiled.search)
    return bool(method(_text(value)))


def match(value: Any, pattern: str = "", ignorecase: bool = False, multiline: bool = False):
    return regex(value, pattern, ignorecase, multiline, "match")


def search(value: Any, pattern: str = "", ignorecase: bool = False, multiline: bool = False):
    return regex(value, pattern, ignorecase, multiline, "search")


_VERSION_PART = re.compile(r"(\d+|[a-z]+|\.)", re.I)


def loose_version(text: str) -> list[int | str]:
    """distutils' LooseVersion components: runs of digits as ints, runs of letters and any other
    characters as strings, dots dropped ("1.2rc1" -> [1, 2, "rc", 1])."""
    parts: list[int | str] = []
    for part in _VERSION_PART.split(text):
        if not part or part == ".":
            continue
        parts.append(int(part) if part.isdigit() else part)
    return parts


_STRICT_VERSION = re.compile(r"^(\d+)\.(\d+)(?:\.(\d+))?(?:([ab])(\d+))?$", re.ASCII)


def strict_version(text: str) -> tuple:
    found = _STRICT_VERSION.match(text)
    if not found:
        raise FilterError(f"invalid version number '{text}'")
    major, minor, patch, tag, number = found.groups()
    release = (int(major), int(minor), int(patch or 0))
    # a release without a pre-release tag sorts after its pre-releases
    pre = (tag, int(number)) if tag else ("z", 0)
    return release + pre


def _semantic_version(text: str) -> tuple:
    found = re.match(
        r"^v?(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$", text.strip()
    )
    if not found:
        raise FilterError(f"invalid semantic version '{text}'")
    major, minor, patch, pre = found.groups()
    if pre is None:
        return (int(major), int(minor), int(patch), 1, ())
    ids = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in pre.split("."))
    return (int(major), int(minor), int(patch), 0, ids)


_OPERATORS = {
    "==": operator.eq, "=": operator.eq, "eq": operator.eq,
    "<": operator.lt, "lt": operator.lt,
    "<=": operator.le, "le": operator.le,
    ">": operator.gt, "gt": operator.gt,
    ">=": operator.ge, "ge": operator.ge,
    "!=": operator.ne, "<>": operator.ne, "ne": operator.ne,
}  # fmt: skip


def version_compare(value: Any, version: Any, operator: str = "eq", strict: Any = None,
                    version_type: str | None = None) -> bool:  # fmt: skip
    if strict is not None and version_type is not None:
        raise FilterError("Cannot specify both 'strict' and 'version_type'")
    if not value:
        raise FilterError("Input version value cannot be empty")
    if not version:
        raise FilterError("Version parameter to compare against cannot be empty")
    if operator not in _OPERATORS:
        raise FilterError(
            f"Invalid operator type ({operator}). Must be one of "
            + ", ".join(repr(op) for op in _OPERATORS)
        )
    kind = "strict" if strict else (version_type or "loose")
    parsers: dict[str, Callable[[str], Any]] = {
        "loose": loose_version,
        "strict": strict_version,
        "semver": _semantic_version,
        "semantic": _semantic_version,
    }
    if kind not in parsers:
        raise FilterError(
            f"Invalid version type ({kind}). Must be one of 'loose', 'strict', 'semver'"
        )
    parse = parsers[kind]
    try:
        return bool(_OPERATORS[operator](parse(_text(value)), parse(_text(version))))
    except TypeError as error:
        raise FilterError(f"Version comparison failed: {error}") from error


def truthy(value: Any, convert_bool: bool = False) -> bool:
    if convert_bool and isinstance(value, str | int | bool):
        text = str(value).lower()
        if text in _TRUE | {"y", "t"}:
            return True
        if text in _FALSE | {"n", "f"}:
            return False
    return bool(value)


def falsy(value: Any, convert_bool: bool = False) -> bool:
    return not truthy(value, convert_bool)


def subset(a: Any, b: Any) -> bool:
    try:
        return set(a) <= set(b)
    except TypeError:
        return all(x in b for x in a)


def superset(a: Any, b: Any) -> bool:
    return subset(b, a)


def contains(seq: Any, value: Any) -> bool:
    return value in seq


def _path_test(function: Callable[[str], bool]) -> Callable[[Any], bool]:
    def test(value: Any) -> bool:
        return function(os.path.expanduser(_text(value)))

    return test


def is_mapping(value: Any) -> bool:
    return isinstance(value, Mapping | MutableMapping)


def started(result: Any) -> bool:
    result = _result(result, "started")
    return bool(result.get("started", True))


def timedout(result: Any) -> bool:
    result = _result(result, "timedout")
    timed = result.get("timedout")
    return bool(timed) and bool(timed.get("period") if isinstance(timed, Mapping) else False)


def isnan(value: Any) -> bool:
    try:
        return math.isnan(value)
    except TypeError:
        return False


def is_uri(value: Any, schemes: Any = None) -> bool:
    try:
        parts = urllib.parse.urlparse(value)
    except (TypeError, ValueError, AttributeError):
        return False
    return not schemes or parts.scheme in schemes


def is_url(value: Any, schemes: Any = None) -> bool:
    if not is_uri(value, schemes):
        return False
    parts = urllib.parse.urlparse(value)
    return bool(parts.netloc or parts.scheme == "file")


def is_urn(value: Any) -> bool:
    return is_uri(value, ["urn"])


def same_file(a: Any, b: Any) -> bool:
    return os.path.samefile(os.path.expanduser(_text(a)), os.path.expanduser(_text(b)))


def vaulted_file(path: Any) -> bool:
    """A file that ansible-vault encrypted (its first bytes are the vault header)."""
    try:
        with open(os.path.expanduser(_text(path)), "rb") as handle:
            return handle.read(len(b"$ANSIBLE_VAULT;")) == b"$ANSIBLE_VAULT;"
    except OSError as error:
        raise FilterError(f"Cannot test if the file {path} is a vault: {error.strerror}") from None


def vault_encrypted(value: Any) -> bool:
    """An inline !vault value (decrypted by the loader, its envelope kept)."""
    from orchestr.vault.secret import VaultSecret

    return isinstance(value, VaultSecret) and getattr(value, "ciphertext", None) is not None


TESTS: dict[str, Callable[..., Any]] = {
    "failed": failed,
    "failure": failed,
    "succeeded": succeeded,
    "success": succeeded,
    "successful": succeeded,
    "changed": changed,
    "change": changed,
    "skipped": skipped,
    "skip": skipped,
    "reachable": reachable,
    "unreachable": unreachable,
    "finished": finished,
    "match": match,
    "search": search,
    "regex": regex,
    "version": version_compare,
    "version_compare": version_compare,
    "any": any,
    "all": all,
    "truthy": truthy,
    "falsy": falsy,
    "subset": subset,
    "superset": superset,
    "contains": contains,
    "file": _path_test(os.path.isfile),
    "is_file": _path_test(os.path.isfile),
    "directory": _path_test(os.path.isdir),
    "is_dir": _path_test(os.path.isdir),
    "link": _path_test(os.path.islink),
    "is_link": _path_test(os.path.islink),
    "exists": _path_test(os.path.exists),
    "abs": _path_test(os.path.isabs),
    "is_abs": _path_test(os.path.isabs),
    "mapping": is_mapping,
    "issubset": subset,
    "issuperset": superset,
    "started": started,
    "timedout": timedout,
    "nan": isnan,
    "isnan": isnan,
    "uri": is_uri,
    "url": is_url,
    "urn": is_urn,
    "same_file": same_file,
    "is_same_file": same_file,
    "mount": _path_test(os.path.ismount),
    "is_mount": _path_test(os.path.ismount),
    "link_exists": _path_test(os.path.lexists),
    "vaulted_file": vaulted_file,
    "vault_encrypted": vault_encrypted,
}
