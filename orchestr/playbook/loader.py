"""Playbooks, task files and roles read into the typed model and validated before any host is
touched. Every problem found is collected (never only the first) and raised at the end as one
ParseErrors, each with file:line:column and, when we can guess, a hint ("did you mean ...?").

Decisions worth knowing:
- `with_list` is `loop:`; every other `with_<lookup>` becomes `loop=LoopWith(lookup, terms)`
  so the runner applies the lookup's own semantic (with_items flattens, with_dict = dict2items).
- import_tasks / import_role / import_playbook expand here; include_tasks / include_role stay
  tasks, but a file or role named without a template is read and validated now as well; its
  problems are warnings (Ansible reads it only if the include runs, which a `when:` may skip).
- Each error is reported once, even when a file or role is imported several times.
- Ansible keywords orchestr does not implement are errors, not silently ignored.
- Stricter than `ansible-playbook --syntax-check` on purpose: module arguments (unknown, missing,
  wrong choice or type), keyword value types (`when: {a: 1}`, `loop: 3`, `retries: x`,
  `serial: abc`, `become: maybe`), Jinja2 syntax in conditions, unsupported strategy or
  become_method, duplicate keys; ansible finds these only when the task runs, or never.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from orchestr.cluster.spec import ARGUMENTS as SERVICE_ARGUMENTS
from orchestr.errors import Location, ParseError, ParseErrors
from orchestr.inventory.yaml_loader import duplicate_key_policy
from orchestr.playbook import keywords as kw
from orchestr.playbook import names as _names
from orchestr.playbook.model import (
    Block,
    LoopWith,
    Play,
    Playbook,
    RoleCall,
    Task,
    TaskOrBlock,
)
from orchestr.playbook.modules import base as modules
from orchestr.playbook.yaml_marks import (
    Document,
    Mapping,
    Node,
    Scalar,
    Sequence,
    is_null,
    is_str,
    load_document,
)

__all__ = ["load_playbook", "load_task_file", "load_role", "resolve_task_file", "split_args"]

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_TRUE = frozenset({"y", "yes", "on", "1", "true", "t"})
_FALSE = frozenset({"n", "no", "off", "0", "false", "f"})


# ---------------------------------------------------------------------------------------------
# Public API


def load_playbook(path: str, warnings: list[str] | None = None) -> Playbook:
    """Every play of the playbook at `path`, imports expanded; raises ParseError(s).

    Problems only in files or roles an include_tasks / include_role names are not errors (Ansible
    reads those only when the include runs, and a `when:` may skip it): they are appended to
    `warnings` when given, and become errors at run time if the include does run."""
    loader = _Loader()
    plays = loader.playbook(os.path.abspath(path), None)
    loader.check_names()
    soft = loader.raise_errors()
    if warnings is not None:
        warnings.extend(f"{error.one_line()} (only if included)" for error in soft)
    return Playbook(path=path, plays=tuple(plays))


def load_task_file(path: str, role: RoleCall | None = None) -> tuple[TaskOrBlock, ...]:
    """The tasks of one file (include_tasks at run time); raises ParseError(s)."""
    loader = _Loader()
    context = _Context(
        base_dir=os.path.dirname(role.path) if role else os.path.dirname(os.path.abspath(path)),
        role=role.name if role else None,
        role_path=role.path if role else None,
    )
    tasks = loader.task_file(os.path.abspath(path), context, None)
    loader.raise_errors()
    return tuple(tasks)


def load_role(
    name: str, base_dir: str, tasks_from: str = "main", handlers_from: str = "main"
) -> RoleCall:
    """A role read from roles/NAME beside `base_dir` (include_role at run time)."""
    loader = _Loader()
    role = loader.role(
        name, base_dir, None, None, tasks_from=tasks_from, handlers_from=handlers_from
    )
    loader.raise_errors()
    assert role is not None
    return role


def resolve_task_file(name: str, task: Task, base_dir: str) -> str | None:
    """Where an include_tasks/import_tasks file name points, as Ansible searches: the role's
    tasks/ folder, the including file's folder, then the playbook's folder."""
    return _find_task_file(name, task.location.path, task.role_path, base_dir)


# ---------------------------------------------------------------------------------------------
# Small value helpers


def _suggest(word: str, candidates: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, sorted(candidates), n=1, cutoff=0.7)
    return f"did you mean {close[0]!r}?" if close else ""


def _has_template(value: Any) -> bool:
    if isinstance(value, str):
        return "{{" in value or "{%" in value
    if isinstance(value, dict):
        return any(_has_template(k) or _has_template(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_has_template(v) for v in value)
    return False


def _bool(value: Any) -> Any:
    """Ansible's reading of a boolean keyword: True/False, a template kept raw, or ValueError."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        if _has_template(value):
            return value
    raise ValueError(value)


@functools.lru_cache(maxsize=4096)
def template_errors(text: str) -> tuple[str, ...]:
    """Jinja2 syntax errors in one string (empty when it is fine or holds no template).

    A parse, not the templar's compile (templar.template_syntax_errors): compiling costs ~7x
    more and a 1,000-task playbook must load in well under 0.2 s."""
    # One cached parse also gives the filter/test/lookup names the text uses (names.py).
    return _names.analyse(text)[0]


# ---------------------------------------------------------------------------------------------
# Ansible's k=v argument strings


def split_args(text: str) -> list[tuple[str, int, int]]:
    """Split `a=1 b="x y" c={{ d | e }}` into (token, start, end), as Ansible's split_args:
    on whitespace outside quotes and Jinja2 blocks. ValueError when quotes or blocks are open."""
    tokens: list[tuple[str, int, int]] = []
    i, n = 0, len(text)
    while i < n:
        while i < n and text[i].isspace():
            i += 1
        if i >= n:
            break
        start, quote, depth = i, "", 0
        while i < n:
            c = text[i]
            if quote:
                if c == "\\" and i + 1 < n:
                    i += 2
                    continue
                if c == quote:
                    quote = ""
            elif text.startswith(("{{", "{%", "{#"), i):
                depth += 1
                i += 2
                continue
            elif depth and text.startswith(("}}", "%}", "#}"), i):
                depth -= 1
                i += 2
                continue
            elif c in "\"'":
                quote = c
            elif c.isspace() and not depth:
                break
            i += 1
        if quote or depth:
            raise ValueError(text)
        tokens.append((text[start:i], start, i))
    return tokens


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


def parse_kv(text: str, free_form: bool) -> dict[str, Any]:
    """Ansible's parse_kv: k=v pairs; the rest is `_raw_params`. For a free-form module only
    the options of FREE_FORM_OPTIONS are taken out of the command line, which stays verbatim."""
    options: dict[str, Any] = {}
    removed: list[tuple[int, int]] = []
    raw: list[str] = []
    for token, start, end in split_args(text):
        position = token.find("=")
        while position > 0 and token[position - 1] == "\\":
            position = token.find("=", position + 1)
        if position <= 0:
            raw.append(token)
            continue
        key = token[:position].strip()
        if free_form and key not in kw.FREE_FORM_OPTIONS:
            raw.append(token)
            continue
        options[key] = _unquote(token[position + 1 :].strip())
        removed.append((start, end))
    if free_form:
        if removed:
            kept, last = [], 0
            for start, end in removed:
                kept.append(text[last:start])
                last = end
            kept.append(text[last:])
            command = "".join(kept).strip()
        else:
            command = text.strip()
        if command:
            options["_raw_params"] = command
    elif raw:
        options["_raw_params"] = " ".join(raw)
    return options


# ---------------------------------------------------------------------------------------------
# Files and paths


def _first_existing(candidates: Iterable[str]) -> str | None:
    for candidate in candidates:
        if os.path.isfile(candidate):
            return candidate
    return None


def _yaml_names(base: str) -> list[str]:
    return [base, base + ".yml", base + ".yaml"] if not base.endswith((".yml", ".yaml")) else [base]


def _find_task_file(name: str, from_file: str, role_path: str | None, base_dir: str) -> str | None:
    if os.path.isabs(name):
        return _first_existing([name])
    folders = []
    if role_path:
        folders.append(os.path.join(role_path, "tasks"))
    folders.append(os.path.dirname(from_file))
    if role_path:
        folders.append(role_path)
    folders.append(base_dir)
    return _first_existing(os.path.join(folder, name) for folder in folders)


def _role_dirs(name: str, base_dir: str) -> list[str]:
    folders = [os.path.join(base_dir, "roles")]
    folders += [p for p in os.environ.get("ANSIBLE_ROLES_PATH", "").split(os.pathsep) if p]
    folders.append(base_dir)
    if os.path.isabs(name):
        return [name]
    return [os.path.join(folder, name) for folder in folders]


# ---------------------------------------------------------------------------------------------
# The loader


@dataclass
class _Context:
    """Where a list of tasks is read: what relative paths and roles resolve against."""

    base_dir: str
    role: str | None = None
    role_path: str | None = None
    handlers: bool = False
    imported_roles: list[RoleCall] | None = None
    chain: tuple[str, ...] = ()  # files being imported, for the cycle guard
    collections: tuple[str, ...] = ()  # where short module names are looked up first

    def derive(self, **changes: Any) -> _Context:
        return dataclasses.replace(self, **changes)


@dataclass
class _Pair:
    key: str
    key_node: Node
    value: Node


# Arguments only orchestr's container service takes (Ansible's `service` shares name, state).
_ORCHESTR_SERVICE_ONLY = frozenset(SERVICE_ARGUMENTS) - {"name", "state"}


# Task/Block fields an import (import_tasks, import_role, a role's keywords) passes to each
# task it brings in, when the task does not set them itself.
_INHERITED = ("become", "become_user", "environment", "delegate_to", "check_mode",
              "remote_user", "throttle", "delegate_facts")  # fmt: skip
_INHERITED_FLAGS = ("ignore_errors", "run_once", "no_log")


@dataclass
class _Loader:
    errors: list[ParseError] = field(default_factory=list)
    documents: dict[str, Document | None] = field(default_factory=dict)
    validated: set[tuple[str, str | None]] = field(default_factory=set)
    duplicates: str = field(default_factory=duplicate_key_policy)
    # Filter, test and lookup names used, checked once every plugin folder is known.
    used_names: _names.NameCheck = field(default_factory=_names.NameCheck)
    # Files read outside any include_tasks / include_role: problems there are errors. Problems
    # in files only an include reads, or at an include naming a missing file, are `soft`.
    static_paths: set[str] = field(default_factory=set)
    soft: list[ParseError] = field(default_factory=list)
    dynamic_depth: int = 0

    def __post_init__(self) -> None:
        modules.load_all()

    # -- errors -----------------------------------------------------------------------------

    def error(self, message: str, location: Location, hint: str = "") -> None:
        self.errors.append(ParseError(message, hint=hint, location=location))

    def check_names(self) -> None:
        """Every filter, test and lookup name the loaded files use must exist (names.py)."""
        for message, location, hint in self.used_names.problems():
            self.error(message, location, hint)

    def raise_errors(self) -> list[ParseError]:
        """Raise every error once (a file imported twice reports its problems once), in file
        then line order; return the soft ones (see `static_paths`), once each, when none."""
        order = {path: index for index, path in enumerate(self.documents)}

        def key(e: ParseError) -> tuple:
            return (
                order.get(e.location.path, len(order)) if e.location else -1,
                (e.location.line, e.location.column) if e.location else (0, 0),
            )

        def dynamic(e: ParseError) -> bool:
            path = e.location.path if e.location else None
            return path in self.documents and path not in self.static_paths

        def unique(errors: Iterable[ParseError]) -> list[ParseError]:
            seen: dict[tuple, ParseError] = {}
            for e in errors:
                seen.setdefault((e.location, e.message, e.hint), e)
            return sorted(seen.values(), key=key)

        hard = unique(e for e in self.errors if not dynamic(e))
        known = {(e.location, e.message, e.hint) for e in hard}
        soft = [
            e
            for e in unique([*self.soft, *(e for e in self.errors if dynamic(e))])
            if (e.location, e.message, e.hint) not in known
        ]
        self.errors = hard
        if len(hard) == 1:
            raise hard[0]
        if hard:
            raise ParseErrors(hard)
        return soft

    # -- documents ------------------------------------------------------------------------

    def document(self, path: str, where: Location | None = None) -> Document | None:
        if self.dynamic_depth == 0:
            self.static_paths.add(path)
        if path in self.documents:
            return self.documents[path]
        document = None
        if not os.path.isfile(path):
            self.error(f"file not found: {path}", where or Location(path))
        else:
            try:
                document = load_document(path)
            except ParseError as error:
                self.errors.append(error)
        self.documents[path] = document
        if document is not None:
            self.check_templates(document, document.root)
        return document

    def data(self, doc: Document, node: Node | None) -> Any:
        try:
            return doc.data(node)
        except ParseError as error:
            self.errors.append(error)
            return None

    def pairs(self, doc: Document, node: Mapping) -> list[_Pair]:
        """The keys of a mapping with their nodes; duplicate and non-string keys reported."""
        pairs: list[_Pair] = []
        merged: list[_Pair] = []
        seen: set[str] = set()
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                sources = value_node.value if isinstance(value_node, Sequence) else [value_node]
                for source in sources:
                    if isinstance(source, Mapping):
                        merged.extend(self.pairs(doc, source))
                    else:
                        self.error("a merge key (<<) needs a mapping", doc.where(source))
                continue
            if not isinstance(key_node, Scalar):
                self.error("a key must be a string", doc.where(key_node))
                continue
            key = key_node.value
            if key in seen and self.duplicates == "error":
                self.error(
                    f"Found duplicate mapping key {key!r}",
                    doc.where(key_node),
                    "remove one of them (ANSIBLE_DUPLICATE_YAML_DICT_KEY=warn keeps the last)",
                )
            seen.add(key)
            pairs.append(_Pair(key, key_node, value_node))
        if merged:
            pairs = [pair for pair in merged if pair.key not in seen] + pairs
        if self.duplicates != "error" and len(seen) != len(pairs):
            last = {pair.key: pair for pair in pairs}
            pairs = [pair for pair in pairs if last[pair.key] is pair]
        return pairs

    def check_templates(self, doc: Document, node: Node | None) -> None:
        """Jinja2 syntax of every string in a document (!unsafe strings are never templated)."""
        stack = [node] if node is not None else []
        while stack:
            current = stack.pop()
            if isinstance(current, Scalar):
                if current.tag == "tag:yaml.org,2002:str":
                    for message in template_errors(current.value):
                        if not message.startswith("template error"):
                            message = f"template error: {message}"
                        self.error(
                            message,
                            doc.where(current),
                            "check the {{ }} / {% %} pairs and the expression inside",
                        )
                    self.used_names.template(
                        current.value, doc.where(current), block=current.style in ("|", ">")
                    )
            elif isinstance(current, Sequence):
                stack.extend(current.value)
            elif isinstance(current, Mapping):
                for key_node, value_node in current.value:
                    stack.append(key_node)
                    stack.append(value_node)

    # -- playbooks ------------------------------------------------------------------------

    def playbook(
        self, path: str, where: Location | None, chain: tuple[str, ...] = ()
    ) -> list[Play]:
        if path in chain:
            self.error(
                f"import_playbook cycle: {_chain_text([*chain, path])}",
                where or Location(path),
                "a playbook cannot import itself, directly or not",
            )
            return []
        doc = self.document(path, where)
        if doc is None:
            return []
        self.used_names.add_base(os.path.dirname(path))  # its filter_plugins/, test_plugins/
        chain = (*chain, path)
        root = doc.root
        if is_null(root):
            self.error(f"Empty playbook, nothing to do: {path}", doc.where(root))
            return []
        if not isinstance(root, Sequence):
            self.error(
                "A playbook must be a list of plays",
                doc.where(root),
                "start each play with `- hosts: ...`",
            )
            return []
        if not root.value:
            self.error(f"Empty playbook, nothing to do: {path}", doc.where(root))
            return []
        plays: list[Play] = []
        for item in root.value:
            if not isinstance(item, Mapping):
                self.error("a play must be a mapping", doc.where(item), "e.g. `- hosts: all`")
                continue
            pairs = self.pairs(doc, item)
            for pair in pairs:
                if pair.key in (
                    "ansible.builtin.import_playbook",
                    "ansible.legacy.import_playbook",
                ):
                    pair.key = "import_playbook"
            keys = {pair.key for pair in pairs}
            if "import_playbook" in keys:
                plays.extend(self.import_playbook(doc, item, pairs, chain))
            elif keys & set(kw.REMOVED):
                pair = next(p for p in pairs if p.key in kw.REMOVED)
                self.error(f"{pair.key!r} is not supported", doc.where(pair.key_node),
                           "use import_playbook")  # fmt: skip
            else:
                play = self.play(doc, item, pairs)
                if play is not None:
                    plays.append(play)
        return plays

    def import_playbook(
        self, doc: Document, node: Mapping, pairs: list[_Pair], chain: tuple[str, ...]
    ) -> list[Play]:
        values = {pair.key: pair for pair in pairs}
        for pair in pairs:
            if pair.key not in kw.IMPORT_PLAYBOOK:
                hint = _suggest(pair.key, kw.IMPORT_PLAYBOOK)
                self.error(
                    f"{pair.key!r} is not a valid keyword for import_playbook",
                    doc.where(pair.key_node),
                    hint or "an import_playbook entry takes only name, vars, when and tags",
                )
        target = values["import_playbook"]
        name = self.data(doc, target.value)
        if not isinstance(name, str) or not name.strip():
            self.error("import_playbook needs a file name", doc.where(target.value))
            return []
        if _has_template(name):
            self.error(
                "import_playbook file names cannot be templates",
                doc.where(target.value),
                "imports are read before any variable exists",
            )
            return []
        path = os.path.normpath(os.path.join(os.path.dirname(doc.path), name))
        plays = self.playbook(path, doc.where(target.value), chain)
        extra_vars = (
            self.vars_mapping(doc, values["vars"].value, "vars") if "vars" in values else {}
        )
        when = self.conditions(doc, values["when"].value, "when") if "when" in values else ()
        tags = self.tags(doc, values["tags"].value) if "tags" in values else frozenset()
        if not (extra_vars or when or tags):
            return plays
        result = []
        for play in plays:
            changes: dict[str, Any] = {
                "vars": {**play.vars, **extra_vars},
                "tags": play.tags | tags,
            }
            if when:
                for section in ("pre_tasks", "tasks", "post_tasks"):
                    changes[section] = tuple(
                        _inherit(item, when=when) for item in getattr(play, section)
                    )
                changes["roles"] = tuple(
                    dataclasses.replace(role, when=when + role.when) for role in play.roles
                )
            result.append(dataclasses.replace(play, **changes))
        return result

    def play(self, doc: Document, node: Mapping, pairs: list[_Pair]) -> Play | None:
        values: dict[str, _Pair] = {}
        for pair in pairs:
            if pair.key in kw.PLAY:
                values[pair.key] = pair
            elif pair.key in kw.PLAY_IGNORED:
                continue
            elif pair.key in kw.ANSIBLE_PLAY:
                self.error(
                    f"play keyword {pair.key!r} is not supported by orchestr",
                    doc.where(pair.key_node),
                    "remove it (orchestr would otherwise run something else than written)",
                )
            else:
                hint = _suggest(pair.key, kw.ANSIBLE_PLAY | {"import_playbook"})
                self.error(
                    f"{pair.key!r} is not a valid attribute for a Play",
                    doc.where(pair.key_node),
                    hint or "see the play keywords in the Ansible documentation",
                )
        location = doc.where(node.value[0][0] if node.value else node)
        if "hosts" not in values:
            self.error(
                "The field 'hosts' is required but was not set",
                location,
                "add `hosts: all` or a host pattern",
            )
            return None
        hosts = self.hosts(doc, values["hosts"].value)
        base_dir = os.path.dirname(doc.path)
        imported_roles: list[RoleCall] = []
        context = _Context(base_dir=base_dir, imported_roles=imported_roles, chain=(doc.path,),
                           collections=self.collections(doc, values.get("collections")))  # fmt: skip
        fields: dict[str, Any] = {}

        def value(key: str) -> Any:
            return self.data(doc, values[key].value)

        for key, pair in values.items():
            where = doc.where(pair.value)
            if key == "name":
                fields["name"] = "" if is_null(pair.value) else str(value(key))
            elif key == "vars":
                fields["vars"] = self.vars_mapping(doc, pair.value, "vars")
            elif key == "vars_files":
                fields["vars_files"] = self.vars_files(doc, pair.value, base_dir)
            elif key in ("pre_tasks", "tasks", "post_tasks"):
                fields[key] = tuple(self.task_list(doc, pair.value, context, key))
            elif key == "handlers":
                fields[key] = tuple(
                    self.task_list(doc, pair.value, context.derive(handlers=True), key)
                )
            elif key == "roles":
                fields["roles"] = tuple(self.roles(doc, pair.value, base_dir))
            elif key == "serial":
                fields["serial"] = self.serial(doc, pair.value)
            elif key == "max_fail_percentage":
                raw = value(key)
                if not _percent_or_number(raw):
                    self.error(
                        f"max_fail_percentage must be a number, not {raw!r}",
                        where,
                        "e.g. `max_fail_percentage: 30`",
                    )
                fields[key] = raw
            elif key in ("any_errors_fatal", "gather_facts", "become", "check_mode", "diff"):
                fields[key] = self.boolean(doc, pair.value, key)
            elif key in ("gather_subset", "gather_timeout", "fact_path"):
                fields[key] = value(key)  # checked as the setup module's arguments when run
            elif key == "strategy":
                raw = value(key)
                if raw not in ("linear", "free"):
                    self.error(
                        f"strategy {raw!r} is not supported",
                        where,
                        _suggest(str(raw), ("linear", "free")) or "use linear or free",
                    )
                else:
                    fields[key] = raw
            elif key in ("become_user", "remote_user", "throttle"):
                fields[key] = self.scalar(doc, pair.value, key)
            elif key == "connection":
                raw = value(key)
                if raw not in ("ssh", "local", "smart", "paramiko") and not _has_template(raw):
                    self.error(f"connection {raw!r} is not supported", where, "use ssh or local")
                else:
                    fields[key] = raw
            elif key == "vars_prompt":
                fields[key] = self.vars_prompt(doc, pair.value)
            elif key == "become_method":
                self.become_method(doc, pair.value)
            elif key == "tags":
                fields["tags"] = self.tags(doc, pair.value)
            elif key == "environment":
                fields["environment"] = self.environment(doc, pair.value)
        if hosts is None:
            return None
        return Play(
            hosts=hosts,
            location=location,
            base_dir=base_dir,
            imported_roles=tuple(imported_roles),
            **{"name": "", **fields},
        )

    def vars_prompt(self, doc: Document, node: Node) -> tuple[dict[str, Any], ...]:
        raw = self.data(doc, node)
        if raw is None:
            return ()
        entries = []
        for item in raw if isinstance(raw, list) else [raw]:
            if not isinstance(item, dict) or not isinstance(item.get("name"), str):
                self.error("vars_prompt entries need a name", doc.where(node),
                           "e.g. `- name: version` with `prompt:` and `default:`")  # fmt: skip
                continue
            if "encrypt" in item:
                self.error("vars_prompt `encrypt` is not supported by orchestr", doc.where(node),
                           "remove it, or hash the value with the password_hash filter")  # fmt: skip
                continue
            entries.append(dict(item))
        return tuple(entries)

    def hosts(self, doc: Document, node: Node) -> str | None:
        raw = self.data(doc, node)
        if isinstance(raw, list) and raw and all(isinstance(h, str | int) for h in raw):
            return ",".join(str(h) for h in raw)
        if isinstance(raw, str) and raw.strip():
            return raw
        if isinstance(raw, int) and not isinstance(raw, bool):
            return str(raw)
        self.error(
            "Hosts list cannot be empty" if raw in (None, "", []) else f"bad hosts: {raw!r}",
            doc.where(node),
            "a host pattern (string) or a list of patterns",
        )
        return None

    def vars_files(self, doc: Document, node: Node, base_dir: str) -> tuple[Any, ...]:
        raw = self.data(doc, node)
        if raw is None:
            return ()
        items = raw if isinstance(raw, list) else [raw]
        nodes = node.value if isinstance(node, Sequence) else [node]
        for item, item_node in zip(items, nodes, strict=False):
            # A list inside the list means "the first of these that exists".
            choices = item if isinstance(item, list) else [item]
            if not all(isinstance(c, str) for c in choices):
                self.error("vars_files entries must be file names", doc.where(item_node))
                continue
            if any(_has_template(c) for c in choices):
                continue
            paths = [os.path.join(base_dir, c) for c in choices]
            found = _first_existing(paths)
            if found is None:
                self.error(
                    f"vars file not found: {choices[0] if len(choices) == 1 else choices}",
                    doc.where(item_node),
                    f"looked in {base_dir}",
                )
                continue
            vars_doc = self.document(found, doc.where(item_node))
            if vars_doc is not None and not is_null(vars_doc.root):
                if not isinstance(vars_doc.root, Mapping):
                    self.error(
                        "a vars file must hold a mapping of variables",
                        vars_doc.where(vars_doc.root),
                    )
                else:
                    self.vars_mapping(vars_doc, vars_doc.root, "vars")
        return tuple(items)

    def serial(self, doc: Document, node: Node) -> tuple[Any, ...]:
        raw = self.data(doc, node)
        items = raw if isinstance(raw, list) else [raw]
        for item in items:
            ok = (isinstance(item, int) and not isinstance(item, bool) and item >= 0) or (
                isinstance(item, str)
                and (_has_template(item) or re.fullmatch(r"\s*\d+(\.\d+)?\s*%?\s*", item))
            )
            if not ok:
                self.error(
                    f"serial must be a number, a percentage or a list of them, not {item!r}",
                    doc.where(node),
                    'e.g. `serial: 2`, `serial: "30%"` or `serial: [1, 5, "50%"]`',
                )
                return ()
        return tuple(items)

    # -- keyword values -------------------------------------------------------------------

    def scalar(self, doc: Document, node: Node, key: str) -> Any:
        raw = self.data(doc, node)
        if isinstance(raw, dict | list):
            self.error(f"{key} must be a single value, not a {type(raw).__name__}", doc.where(node))
            return None
        return raw

    def boolean(self, doc: Document, node: Node, key: str) -> Any:
        raw = self.data(doc, node)
        try:
            return _bool(raw)
        except ValueError:
            self.error(
                f"{key} must be a boolean, not {raw!r}",
                doc.where(node),
                "use true or false (or a {{ template }})",
            )
            return None

    def integer(self, doc: Document, node: Node, key: str) -> Any:
        raw = self.data(doc, node)
        if isinstance(raw, int) and not isinstance(raw, bool):
            return raw
        if isinstance(raw, str):
            if raw.strip().lstrip("-").isdigit():
                return int(raw)
            if _has_template(raw):
                return raw
        self.error(f"{key} must be an integer, not {raw!r}", doc.where(node), f"e.g. `{key}: 3`")
        return None

    def become_method(self, doc: Document, node: Node) -> None:
        raw = self.data(doc, node)
        if raw != "sudo" and not _has_template(raw):
            self.error(
                f"become_method {raw!r} is not supported",
                doc.where(node),
                "orchestr becomes another user with sudo only",
            )

    def conditions(self, doc: Document, node: Node, key: str) -> tuple[Any, ...]:
        raw = self.data(doc, node)
        items = raw if isinstance(raw, list) else [raw]
        nodes = node.value if isinstance(node, Sequence) else [node]
        result = []
        for item, item_node in zip(items, nodes, strict=False):
            if item is None:
                continue
            if isinstance(item, dict | list):
                self.error(
                    f"{key} must be a condition (a string or a boolean), not a {type(item).__name__}",
                    doc.where(item_node),
                    f"e.g. `{key}: result.rc == 0`; a list means all of them",
                )
                continue
            if isinstance(item, str) and "{{" not in item and "{%" not in item:
                for message in template_errors("{{ " + item + " }}"):
                    self.error(
                        f"bad condition: {message}",
                        doc.where(item_node),
                        "a condition is a bare Jinja2 expression, e.g. `x is defined`",
                    )
                self.used_names.expression(item, doc.where(item_node))
            result.append(item)
        return tuple(result)

    def tags(self, doc: Document, node: Node) -> frozenset[str]:
        raw = self.data(doc, node)
        if raw is None:
            return frozenset()
        items = raw if isinstance(raw, list) else [raw]
        tags: set[str] = set()
        for item in items:
            if isinstance(item, dict | list) or item is None:
                self.error("tags must be strings", doc.where(node), "e.g. `tags: [web, db]`")
                continue
            tags.update(t.strip() for t in str(item).split(",") if t.strip())
        return frozenset(tags)

    def names(self, doc: Document, node: Node, key: str) -> tuple[str, ...]:
        raw = self.data(doc, node)
        if raw is None:
            return ()
        items = raw if isinstance(raw, list) else [raw]
        if not all(isinstance(i, str | int | float) and not isinstance(i, bool) for i in items):
            self.error(f"{key} must be a name or a list of names", doc.where(node))
            return ()
        return tuple(str(i) for i in items)

    def vars_mapping(self, doc: Document, node: Node, key: str) -> dict[str, Any]:
        raw = self.data(doc, node)
        if raw is None:
            return {}
        if isinstance(raw, list) and all(isinstance(item, dict) for item in raw):
            merged: dict[str, Any] = {}
            for item in raw:
                merged.update(item)
            raw = merged
        if not isinstance(raw, dict):
            self.error(f"{key} must be a mapping of variable names to values", doc.where(node))
            return {}
        for name in raw:
            if not isinstance(name, str) or not _IDENTIFIER.match(name):
                self.error(
                    f"Invalid variable name {name!r}",
                    self._key_location(doc, node, name),
                    "variable names are letters, digits and _, not starting with a digit",
                )
        return raw

    def _key_location(self, doc: Document, node: Node, key: Any) -> Location:
        if isinstance(node, Mapping):
            for key_node, _ in node.value:
                if isinstance(key_node, Scalar) and key_node.value == str(key):
                    return doc.where(key_node)
        return doc.where(node)

    def environment(self, doc: Document, node: Node) -> Any:
        raw = self.data(doc, node)
        if raw is None or isinstance(raw, dict) or (isinstance(raw, str) and _has_template(raw)):
            return raw
        if isinstance(raw, list) and all(isinstance(i, dict | str) for i in raw):
            return raw
        self.error(
            "environment must be a mapping of variables (or a template)",
            doc.where(node),
            "e.g. `environment: {PATH: /opt/bin}`",
        )
        return None

    # -- task lists ----------------------------------------------------------------------

    def task_file(self, path: str, context: _Context, where: Location | None) -> list[TaskOrBlock]:
        if path in context.chain:
            self.error(
                f"import cycle: {_chain_text([*context.chain, path])}",
                where or Location(path),
                "a task file cannot import itself, directly or not",
            )
            return []
        doc = self.document(path, where)
        if doc is None or is_null(doc.root):
            return []
        return self.task_list(doc, doc.root, context.derive(chain=(*context.chain, path)), "tasks")

    def task_list(
        self, doc: Document, node: Node | None, context: _Context, section: str
    ) -> list[TaskOrBlock]:
        if is_null(node):
            return []
        assert node is not None
        if not isinstance(node, Sequence):
            self.error(
                f"{section} must be a list of tasks",
                doc.where(node),
                "start each task with `- name: ...` or `- module: ...`",
            )
            return []
        result: list[TaskOrBlock] = []
        for item in node.value:
            if not isinstance(item, Mapping):
                self.error(
                    "a task must be a mapping (module: args, keywords)",
                    doc.where(item),
                    "e.g. `- ansible.builtin.debug: {msg: hi}`",
                )
                continue
            if not item.value:
                self.error("empty task", doc.where(item), "give it a module")
                continue
            result.extend(self.task_or_block(doc, item, context))
        return result

    def collections(self, doc: Document, pair: _Pair | None) -> tuple[str, ...]:
        """A `collections:` list (play, block, task or role meta): names to look short module
        names up in, in order."""
        if pair is None or is_null(pair.value):
            return ()
        raw = self.data(doc, pair.value)
        if not isinstance(raw, list) or not all(isinstance(x, str) for x in raw):
            self.error("collections must be a list of collection names", doc.where(pair.value),
                       f"e.g. `collections: [{modules.ORCHESTR_COLLECTION}]`")  # fmt: skip
            return ()
        return tuple(raw)

    def task_or_block(self, doc: Document, node: Mapping, context: _Context) -> list[TaskOrBlock]:
        pairs = self.pairs(doc, node)
        for pair in pairs:
            if pair.key == "collections":
                context = context.derive(collections=self.collections(doc, pair))
        keys = {pair.key for pair in pairs}
        if keys & {"block", "rescue", "always"}:
            block = self.block(doc, node, pairs, context)
            return [block] if block is not None else []
        return self.task(doc, node, pairs, context)

    def block(
        self, doc: Document, node: Mapping, pairs: list[_Pair], context: _Context
    ) -> Block | None:
        location = doc.where(node.value[0][0])
        values = {pair.key: pair for pair in pairs}
        if "block" not in values:
            self.error(
                "rescue/always without block",
                location,
                "put the tasks to protect under `block:`",
            )
            return None
        if context.handlers:
            self.error("blocks are not supported among handlers", location, "list the handlers")
            return None
        fields: dict[str, Any] = {}
        for pair in pairs:
            if pair.key in kw.BLOCK:
                continue
            if pair.key in kw.ANSIBLE_BLOCK or pair.key in kw.TASK_IGNORED:
                if pair.key not in kw.TASK_IGNORED:
                    self.error(
                        f"block keyword {pair.key!r} is not supported by orchestr",
                        doc.where(pair.key_node),
                        "remove it",
                    )
                continue
            hint = _suggest(pair.key, kw.ANSIBLE_BLOCK)
            if self.module_known(modules.resolve(pair.key, context.collections)):
                hint = "modules go in tasks under block:, rescue: or always:"
            self.error(
                f"{pair.key!r} is not a valid attribute for a Block",
                doc.where(pair.key_node),
                hint or "a block holds tasks under block/rescue/always; modules go in tasks",
            )
        for section in ("block", "rescue", "always"):
            if section in values:
                fields[section] = tuple(
                    self.task_list(doc, values[section].value, context, section)
                )
        fields.update(self.common_keywords(doc, values))
        return Block(location=location, **fields)

    def common_keywords(self, doc: Document, values: dict[str, _Pair]) -> dict[str, Any]:
        """Keywords tasks and blocks share, typed."""
        fields: dict[str, Any] = {}
        for key, pair in values.items():
            node = pair.value
            if key == "name":
                fields["name"] = "" if is_null(node) else str(self.data(doc, node))
            elif key == "when":
                fields["when"] = self.conditions(doc, node, key)
            elif key == "tags":
                fields["tags"] = self.tags(doc, node)
            elif key in ("become", "check_mode", "diff"):
                fields[key] = self.boolean(doc, node, key)
            elif key in ("ignore_errors", "run_once", "no_log"):
                value = self.boolean(doc, node, key)
                fields[key] = False if value is None else value
            elif key in ("become_user", "delegate_to", "remote_user", "throttle"):
                fields[key] = self.scalar(doc, node, key)
            elif key == "delegate_facts":
                fields[key] = self.boolean(doc, node, key)
            elif key == "notify":
                fields[key] = self.names(doc, node, key)
            elif key == "become_method":
                self.become_method(doc, node)
            elif key == "vars":
                fields["vars"] = self.vars_mapping(doc, node, key)
            elif key == "environment":
                fields["environment"] = self.environment(doc, node)
        return fields

    def task(
        self, doc: Document, node: Mapping, pairs: list[_Pair], context: _Context
    ) -> list[TaskOrBlock]:
        location = doc.where(node.value[0][0])
        known = kw.HANDLER if context.handlers else kw.TASK
        ansible_known = kw.ANSIBLE_HANDLER if context.handlers else kw.ANSIBLE_TASK
        values: dict[str, _Pair] = {}
        candidates: list[_Pair] = []
        with_pair: _Pair | None = None
        for pair in pairs:
            key = pair.key
            if key in known:
                values[key] = pair
            elif key.startswith("with_"):
                if key[5:] in kw.WITH_LOOKUPS:
                    if with_pair is not None:
                        self.error("only one with_<lookup> per task", doc.where(pair.key_node))
                    with_pair = pair
                else:
                    self.error(
                        f"{key!r} is not a valid attribute for a Task",
                        doc.where(pair.key_node),
                        _suggest(key, {f"with_{name}" for name in kw.WITH_LOOKUPS})
                        or "use loop: with a list",
                    )
            elif key in kw.TASK_IGNORED:
                continue
            elif key in ansible_known or key == "listen":
                self.error(
                    f"{key!r} is not a valid attribute for a Task"
                    if key == "listen"
                    else f"task keyword {key!r} is not supported by orchestr",
                    doc.where(pair.key_node),
                    "listen is for handlers only" if key == "listen" else "remove it",
                )
            else:
                candidates.append(pair)

        # Which key is the module: action/local_action, else the one key that is no keyword.
        action = values.get("action") or values.get("local_action")
        found = [p for p in candidates
                 if self.module_known(modules.resolve(p.key, context.collections))]  # fmt: skip
        removed = [p for p in candidates if p.key in kw.REMOVED]
        unknown = [p for p in candidates if p not in found and p not in removed]
        broken = False
        if action and found:
            self.error(
                f"conflicting action statements: {action.key}, {found[0].key}",
                doc.where(found[0].key_node),
                "a task runs one module",
            )
            broken = True
        elif len(found) > 1:
            self.error(
                "conflicting action statements: " + ", ".join(p.key for p in found),
                doc.where(found[1].key_node),
                "a task runs one module: split it into two tasks",
            )
            broken = True
        elif removed:
            pair = removed[0]
            self.error(
                f"{pair.key!r} is not supported", doc.where(pair.key_node), kw.REMOVED[pair.key]
            )
            broken = True
        elif unknown:
            alone = not (action or found) and len(unknown) == 1
            for pair in unknown:
                keyword = _suggest(pair.key, known)
                module_hint = _suggest(modules.canonical_name(pair.key), self.module_names())
                if modules.resolve(pair.key) == "service":
                    self.ansible_service(doc, pair)
                elif alone or (module_hint and not keyword):
                    self.error(
                        f"couldn't resolve module/action {pair.key!r}",
                        doc.where(pair.key_node),
                        module_hint
                        or keyword
                        or "orchestr does not implement this module, or it is a misspelt keyword",
                    )
                else:
                    self.error(
                        f"{pair.key!r} is not a valid attribute for a Task",
                        doc.where(pair.key_node),
                        keyword
                        or module_hint
                        or "see the task keywords in the Ansible documentation",
                    )
            broken = True
        elif not action and not found:
            self.error(
                "no module/action detected in task", location, "add a module, e.g. `debug: msg=hi`"
            )
            broken = True

        module, args = "", {}
        if broken:
            pass
        elif action:
            parsed = self.action_args(doc, action, context)
            if parsed is None:
                broken = True
            else:
                module, args, module_node = parsed
        else:
            pair = found[0]
            module = modules.resolve(pair.key, context.collections)
            module_node = pair.value
            parsed_args = self.module_args(doc, module, pair.value)
            if parsed_args is None:
                broken = True
            args = parsed_args or {}
        if "args" in values:
            extra = self.data(doc, values["args"].value)
            if isinstance(extra, dict):
                args = {**extra, **args}
            elif extra is not None:
                self.error("args must be a mapping", doc.where(values["args"].value))
        if not broken:
            key_node = action.key_node if action else found[0].key_node
            self.check_args(doc, module, args, module_node, values, doc.where(key_node))
            self.used_names.module_args(module, args, location)

        fields = self.common_keywords(doc, values)
        if "local_action" in values:
            fields["delegate_to"] = "localhost"
        for key, pair in values.items():
            node = pair.value
            if key in ("changed_when", "failed_when", "until"):
                fields[key] = self.conditions(doc, node, key)
            elif key == "loop":
                fields["loop"] = self.loop(doc, node)
            elif key == "loop_control":
                fields["loop_control"] = self.loop_control(doc, node)
            elif key == "register":
                raw = self.data(doc, node)
                if not isinstance(raw, str) or not _IDENTIFIER.match(raw):
                    self.error(
                        f"Invalid 'register' specified: Invalid variable name {raw!r}",
                        doc.where(node),
                        "variable names are letters, digits and _",
                    )
                else:
                    fields["register"] = raw
            elif key in ("notify", "listen"):
                fields[key] = self.names(doc, node, key)
            elif key in ("retries", "delay"):
                value = self.integer(doc, node, key)
                if value is not None:
                    fields[key] = value
            elif key in ("async", "poll"):
                value = self.integer(doc, node, key)
                if value is not None:
                    fields["async_" if key == "async" else key] = value
        if with_pair is not None:
            if "loop" in values:
                self.error(
                    f"both loop and {with_pair.key} on one task",
                    doc.where(with_pair.key_node),
                    "keep one of them",
                )
            lookup = with_pair.key[5:]
            terms = self.data(doc, with_pair.value)
            fields["loop"] = terms if lookup == "list" else LoopWith(lookup, terms)
        if broken:
            return []
        task = Task(
            module=module,
            args=args,
            location=location,
            role=context.role,
            role_path=context.role_path,
            **{"name": "", **fields},
        )
        if module == "import_tasks":
            return self.import_tasks(doc, task, values, context)
        if module == "import_role":
            return self.import_role(doc, task, values, context)
        if module == "include_tasks":
            self.validate_include(doc, task, context)
        if module == "include_role":
            name = args.get("name")
            if isinstance(name, str) and not _has_template(name):
                # Read only when the include runs (Ansible): problems here are soft; those at
                # this task (role or tasks_from not found) are moved to `soft` by hand.
                start = len(self.errors)
                self.dynamic_depth += 1
                try:
                    self.role(name, context.base_dir, doc, task.location, **_role_froms(args))
                finally:
                    self.dynamic_depth -= 1
                here = [e for e in self.errors[start:] if e.location == task.location]
                self.soft.extend(here)
                self.errors[start:] = [e for e in self.errors[start:] if e not in here]
        return [task]

    # -- modules and their arguments --------------------------------------------------------

    @staticmethod
    def module_known(name: str) -> bool:
        return name in modules.REGISTRY or name in kw.PSEUDO_MODULES

    @staticmethod
    def module_names() -> set[str]:
        return set(modules.REGISTRY) | set(kw.PSEUDO_MODULES)

    @staticmethod
    def free_form(module: str) -> bool:
        spec = modules.REGISTRY.get(module)
        return spec is not None and spec.free_form

    def module_args(self, doc: Document, module: str, node: Node) -> dict[str, Any] | None:
        raw = self.data(doc, node)
        if raw is None:
            return {}
        if isinstance(raw, dict):
            return {str(k): v for k, v in raw.items()}
        if isinstance(raw, str | int | float) and not isinstance(raw, bool):
            try:
                return parse_kv(str(raw), self.free_form(module))
            except ValueError:
                self.error(
                    "failed at splitting arguments, either an unbalanced jinja2 block or quotes",
                    doc.where(node),
                    "quote the whole value, or use the mapping form `module: {key: value}`",
                )
                return None
        self.error(
            f"arguments of {module} must be a mapping or a k=v string, not a {type(raw).__name__}",
            doc.where(node),
            f"e.g. `{module}: {{key: value}}`",
        )
        return None

    def ansible_service(self, doc: Document, pair: _Pair) -> None:
        """`service:` is Ansible's (system services). When its arguments are orchestr's own
        (a container service), say how to write orchestr's task instead."""
        raw = self.data(doc, pair.value)
        ours = sorted(set(raw) & _ORCHESTR_SERVICE_ONLY) if isinstance(raw, dict) else []
        full = f"{modules.ORCHESTR_COLLECTION}.service"
        if ours:
            self.error(
                f"{pair.key!r} is Ansible's system service module, but these arguments are "
                f"orchestr's container service's: {', '.join(ours)}",
                doc.where(pair.key_node),
                f"write `{full}:`, or add `collections: [{modules.ORCHESTR_COLLECTION}]` to "
                "the play to use the short name",
            )
        else:
            self.error(
                f"couldn't resolve module/action {pair.key!r}: Ansible's service module is not "
                "implemented by orchestr yet",
                doc.where(pair.key_node),
                f"for orchestr's container service write `{full}:`",
            )

    def action_args(self, doc: Document, pair: _Pair,
                    context: _Context) -> tuple[str, dict[str, Any], Node] | None:  # fmt: skip
        raw = self.data(doc, pair.value)
        if isinstance(raw, dict):
            name = raw.get("module")
            if not isinstance(name, str):
                self.error(f"{pair.key} needs `module:`", doc.where(pair.value))
                return None
            args = {k: v for k, v in raw.items() if k != "module"}
        elif isinstance(raw, str) and raw.strip():
            name, _, rest = raw.strip().partition(" ")
            args = {}
            rest = rest.strip()
            if rest:
                try:
                    args = parse_kv(
                        rest, self.free_form(modules.resolve(name, context.collections))
                    )
                except ValueError:
                    self.error(
                        "failed at splitting arguments, either an unbalanced jinja2 block or quotes",
                        doc.where(pair.value),
                        "check the quotes",
                    )
                    return None
        else:
            self.error(f"{pair.key} needs a module name", doc.where(pair.value))
            return None
        module = modules.resolve(name, context.collections)
        if not self.module_known(module):
            self.error(
                f"couldn't resolve module/action {name!r}",
                doc.where(pair.value),
                _suggest(module, self.module_names()) or "orchestr does not implement it",
            )
            return None
        return module, args, pair.value

    def check_args(
        self,
        doc: Document,
        module: str,
        args: dict[str, Any],
        node: Node,
        values: dict[str, _Pair],
        where: Location,
    ) -> None:
        spec = modules.REGISTRY.get(module)
        if spec is None:
            allowed = kw.PSEUDO_MODULES.get(module)
            if allowed is None:
                return
            for name in args:
                if name not in allowed:
                    self.error(
                        f"{module} has no argument {name!r}",
                        self._arg_location(doc, node, name),
                        _suggest(name, allowed - {"_raw_params"})
                        or "arguments: " + ", ".join(sorted(allowed - {"_raw_params"})),
                    )
            self.check_pseudo(doc, module, args, node, values)
            return
        if spec.any_args or (not spec.args and not spec.free_form):
            return  # set_fact takes any key; a module without a contract: nothing to check
        names = {alias: name for name, arg in spec.args.items() for alias in arg.aliases}
        names.update({name: name for name in spec.args})
        given: set[str] = set()
        meant: set[str] = set()  # arguments a misspelt one stands for: not also "missing"
        for key, value in args.items():
            if key == "_raw_params" and spec.free_form:
                given.add(key)
                continue
            if key == "_raw_params":
                self.error(
                    f"{module} takes no free-form arguments: {value!r}",
                    where,
                    "write key=value pairs, or the mapping form",
                )
                continue
            if key not in names:
                close = difflib.get_close_matches(key, sorted(names), n=1, cutoff=0.7)
                meant.update(names[c] for c in close)
                self.error(
                    f"{module} has no argument {key!r}",
                    self._arg_location(doc, node, key),
                    _suggest(key, names) or "arguments: " + ", ".join(sorted(spec.args)),
                )
                continue
            canonical = names[key]
            given.add(canonical)
            problem = _arg_problem(spec.args[canonical], value)
            if problem:
                self.error(
                    f"{module} argument {key!r}: {problem}",
                    self._arg_location(doc, node, key, value=True),
                    _arg_hint(spec.args[canonical]),
                )
        for name, arg in spec.args.items():
            if (
                arg.required
                and name not in given
                and name not in meant
                and not (spec.free_form and "_raw_params" in given)
            ):
                self.error(
                    f"{module} is missing required argument {name!r}",
                    where,
                    f"add `{name}: ...`",
                )
        if spec.free_form and not args:
            self.error(f"{module} needs a command", where, f"e.g. `{module}: echo hello`")
        if spec.validate is not None and not _has_template(args):
            # Only literal arguments can be judged now; templated ones are checked at run time,
            # still before the module acts.
            for key, problem, hint in spec.validate(dict(args)):
                location = self._arg_location(doc, node, key, value=True) if key in args else where
                self.error(f"{module}: {problem}", location, hint)

    def check_pseudo(
        self, doc: Document, module: str, args: dict[str, Any], node: Node, values: dict[str, _Pair]
    ) -> None:
        where = doc.where(node)
        if module in ("include_tasks", "import_tasks"):
            if "_raw_params" in args:
                args.setdefault("file", args.pop("_raw_params"))
            if not isinstance(args.get("file"), str) or not args["file"]:
                self.error(f"{module} needs a file name", where, f"e.g. `{module}: setup.yml`")
        elif module in ("include_role", "import_role"):
            if not isinstance(args.get("name"), str) or not args["name"]:
                self.error(f"{module} needs `name:`", where, f"e.g. `{module}: {{name: web}}`")
        elif module == "meta":
            action = args.get("_raw_params")
            if not isinstance(action, str) or (
                action not in kw.META_ACTIONS and not _has_template(action)
            ):
                self.error(
                    f"invalid meta action requested: {action}",
                    where,
                    _suggest(str(action), kw.META_ACTIONS)
                    or "one of " + ", ".join(sorted(kw.META_ACTIONS)),
                )
        if module.startswith("import_"):
            for key in ("loop", "with_items", "until"):
                if key in values:
                    self.error(
                        f"You cannot use loops on '{module}' statements",
                        doc.where(values[key].key_node),
                        f"use {module.replace('import', 'include')} instead",
                    )

    @staticmethod
    def _arg_location(doc: Document, node: Node, key: str, value: bool = False) -> Location:
        if isinstance(node, Mapping):
            for key_node, value_node in node.value:
                if isinstance(key_node, Scalar) and key_node.value == key:
                    return doc.where(value_node if value else key_node)
        return doc.where(node)

    def loop(self, doc: Document, node: Node) -> Any:
        raw = self.data(doc, node)
        if isinstance(raw, list) or (isinstance(raw, str) and _has_template(raw)):
            return raw
        self.error(
            f"loop needs a list or a template, not {raw!r}",
            doc.where(node),
            'e.g. `loop: [a, b]` or `loop: "{{ users }}"`',
        )
        return None

    def loop_control(self, doc: Document, node: Node) -> dict[str, Any]:
        raw = self.data(doc, node)
        if raw is None:
            return {}
        if not isinstance(raw, dict):
            self.error("loop_control must be a mapping", doc.where(node))
            return {}
        for key in raw:
            if key not in kw.LOOP_CONTROL:
                self.error(
                    f"{key!r} is not a valid attribute for a LoopControl",
                    self._key_location(doc, node, key),
                    _suggest(str(key), kw.LOOP_CONTROL)
                    or "keys: " + ", ".join(sorted(kw.LOOP_CONTROL)),
                )
        return raw

    # -- includes, imports and roles --------------------------------------------------------

    def validate_include(self, doc: Document, task: Task, context: _Context) -> None:
        name = task.args.get("file")
        if not isinstance(name, str) or _has_template(name):
            return
        path = _find_task_file(name, doc.path, context.role_path, context.base_dir)
        if path is None:
            self.soft.append(ParseError(
                f"include_tasks file not found: {name}",
                hint="paths are relative to the including file (or the role's tasks/)",
                location=task.location,
            ))  # fmt: skip
            return
        key = (path, context.role)
        if key in self.validated or path in context.chain:
            return  # validated already, or including itself (legal: a dynamic recursion)
        self.validated.add(key)
        self.dynamic_depth += 1
        try:
            self.task_file(path, context.derive(imported_roles=None), task.location)
        finally:
            self.dynamic_depth -= 1

    def import_tasks(
        self, doc: Document, task: Task, values: dict[str, _Pair], context: _Context
    ) -> list[TaskOrBlock]:
        name = task.args.get("file")
        if not isinstance(name, str):
            return []
        if _has_template(name):
            self.error(
                "import_tasks file names cannot be templates",
                task.location,
                "imports are read before any variable exists: use include_tasks",
            )
            return []
        path = _find_task_file(name, doc.path, context.role_path, context.base_dir)
        if path is None:
            self.error(
                f"Could not find or access '{name}'",
                task.location,
                "paths are relative to the importing file (or the role's tasks/)",
            )
            return []
        imported = self.task_file(path, context, task.location)
        return [_inherit(item, parent=task) for item in imported]

    def import_role(
        self, doc: Document, task: Task, values: dict[str, _Pair], context: _Context
    ) -> list[TaskOrBlock]:
        name = task.args.get("name")
        if not isinstance(name, str):
            return []
        if _has_template(name):
            self.error("import_role names cannot be templates", task.location, "use include_role")
            return []
        role = self.role(name, context.base_dir, doc, task.location, **_role_froms(task.args))
        if role is None:
            return []
        if context.imported_roles is not None:
            context.imported_roles.append(dataclasses.replace(role, tasks=()))
        return [_inherit(item, parent=task) for item in role.tasks]

    def roles(self, doc: Document, node: Node, base_dir: str) -> list[RoleCall]:
        if is_null(node):
            return []
        if not isinstance(node, Sequence):
            self.error("roles must be a list", doc.where(node), "e.g. `roles: [common, web]`")
            return []
        calls: list[RoleCall] = []
        for item in node.value:
            calls.extend(self.role_entry(doc, item, base_dir, ()))
        return calls

    def role_entry(
        self, doc: Document, item: Node, base_dir: str, chain: tuple[str, ...]
    ) -> list[RoleCall]:
        """One `roles:` (or meta dependencies:) entry: its dependencies first, then itself."""
        where = doc.where(item)
        params: dict[str, Any] = {}
        keywords: dict[str, _Pair] = {}
        if is_str(item):
            name = item.value
        elif isinstance(item, Mapping):
            pairs = self.pairs(doc, item)
            name = None
            for pair in pairs:
                if pair.key in ("role", "name"):
                    name = self.data(doc, pair.value)
                elif pair.key in kw.ROLE:
                    keywords[pair.key] = pair
                elif pair.key in kw.ANSIBLE_ROLE:
                    self.error(
                        f"role keyword {pair.key!r} is not supported by orchestr",
                        doc.where(pair.key_node),
                        "remove it",
                    )
                else:
                    params[pair.key] = self.data(doc, pair.value)
            if not isinstance(name, str) or not name:
                self.error("role name not given", where, "e.g. `- role: web`")
                return []
        else:
            self.error("a role is a name or a mapping with `role:`", where)
            return []
        if _has_template(name):
            self.error("role names cannot be templates here", where, "use include_role")
            return []
        if name in chain:
            self.error(
                f"role dependency cycle: {' -> '.join([*chain, name])}", where, "break the cycle"
            )
            return []
        role = self.role(name, base_dir, doc, where)
        if role is None:
            return []
        fields = self.common_keywords(doc, keywords)
        vars_ = fields.pop("vars", {})
        when = fields.pop("when", ())
        tags = fields.pop("tags", frozenset())
        fields.pop("name", None)
        tasks = role.tasks
        if fields:
            parent = Task("", "import_role", {}, where, **fields)
            tasks = tuple(_inherit(t, parent=parent) for t in tasks)
        deps: list[RoleCall] = []
        meta_doc, meta_node = self.role_meta(role.path)
        if meta_doc is not None and meta_node is not None:
            for dep in meta_node.value if isinstance(meta_node, Sequence) else []:
                deps.extend(self.role_entry(meta_doc, dep, base_dir, (*chain, name)))
        call = dataclasses.replace(
            role,
            location=where,
            tasks=tasks,
            params={**params, **vars_},
            when=when,
            tags=tags,
        )
        return [*deps, call]

    def role_collections(self, role_path: str) -> tuple[str, ...]:
        path = _first_existing(_yaml_names(os.path.join(role_path, "meta", "main")))
        doc = self.document(path) if path is not None else None
        if doc is None or not isinstance(doc.root, Mapping):
            return ()
        found = next((p for p in self.pairs(doc, doc.root) if p.key == "collections"), None)
        return self.collections(doc, found)

    def role_meta(self, role_path: str) -> tuple[Document | None, Node | None]:
        path = _first_existing(_yaml_names(os.path.join(role_path, "meta", "main")))
        if path is None:
            return None, None
        doc = self.document(path)
        if doc is None or not isinstance(doc.root, Mapping):
            return doc, None
        for pair in self.pairs(doc, doc.root):
            if pair.key == "dependencies" and not is_null(pair.value):
                if not isinstance(pair.value, Sequence):
                    self.error("dependencies must be a list of roles", doc.where(pair.value))
                    return doc, None
                return doc, pair.value
        return doc, None

    def role(
        self,
        name: str,
        base_dir: str,
        doc: Document | None,
        where: Location | None,
        *,
        tasks_from: str = "main",
        handlers_from: str = "main",
        vars_from: str = "main",
        defaults_from: str = "main",
    ) -> RoleCall | None:
        candidates = _role_dirs(name, base_dir)
        path = next((c for c in candidates if os.path.isdir(c)), None)
        if path is None:
            self.error(
                f"the role {name!r} was not found",
                where or Location(base_dir),
                "looked in " + ", ".join(os.path.dirname(c) or "." for c in candidates),
            )
            return None
        path = os.path.abspath(path)
        self.used_names.add_base(path)  # its filter_plugins/, test_plugins/
        # A role looks short names up in its own meta's collections, not the play's (Ansible).
        context = _Context(base_dir=base_dir, role=name, role_path=path,
                           collections=self.role_collections(path))  # fmt: skip

        def part(folder: str, base: str) -> str | None:
            return _first_existing(_yaml_names(os.path.join(path, folder, base)))

        tasks: list[TaskOrBlock] = []
        tasks_path = part("tasks", tasks_from)
        if tasks_path is not None:
            tasks = self.task_file(tasks_path, context, where)
        elif tasks_from != "main":
            self.error(f"role {name}: tasks file {tasks_from!r} not found", where or Location(path))
        handlers: list[TaskOrBlock] = []
        handlers_path = part("handlers", handlers_from)
        if handlers_path is not None:
            handlers = self.task_file(handlers_path, context.derive(handlers=True), where)
        mappings = {}
        for folder, base in (("defaults", defaults_from), ("vars", vars_from)):
            found = part(folder, base)
            mappings[folder] = {}
            if found is not None:
                var_doc = self.document(found)
                if var_doc is not None and not is_null(var_doc.root):
                    mappings[folder] = self.vars_mapping(var_doc, var_doc.root, folder)
        return RoleCall(
            name=name,
            path=path,
            location=where or Location(path),
            tasks=tuple(tasks),
            handlers=tuple(h for h in handlers if isinstance(h, Task)),
            defaults=mappings["defaults"],
            vars=mappings["vars"],
        )


def _chain_text(paths: list[str]) -> str:
    top = os.path.dirname(paths[0])
    return " -> ".join(os.path.relpath(path, top) for path in paths)


def _role_froms(args: dict[str, Any]) -> dict[str, str]:
    return {
        key: value
        for key in ("tasks_from", "handlers_from", "vars_from", "defaults_from")
        if isinstance(value := args.get(key), str) and not _has_template(value)
    }


def _percent_or_number(value: Any) -> bool:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return True
    return isinstance(value, str) and (
        _has_template(value) or re.fullmatch(r"\s*\d+(\.\d+)?\s*%?\s*", value) is not None
    )


def _inherit(
    item: TaskOrBlock, *, parent: Task | None = None, when: tuple[Any, ...] = ()
) -> TaskOrBlock:
    """An imported task or block with its import's keywords applied, as Ansible's parent chain:
    conditions first, tags added, the import's vars under the task's own."""
    changes: dict[str, Any] = {}
    if parent is not None:
        when = parent.when + when
        if parent.tags:
            changes["tags"] = item.tags | parent.tags
        if parent.vars:
            changes["vars"] = {**parent.vars, **item.vars}
        for name in _INHERITED:
            if getattr(parent, name) is not None and getattr(item, name) is None:
                changes[name] = getattr(parent, name)
        for name in _INHERITED_FLAGS:
            if getattr(parent, name) is not False and getattr(item, name) is False:
                changes[name] = getattr(parent, name)
    if when:
        changes["when"] = when + item.when
    if isinstance(item, Block):
        changes.pop("diff", None)
    return dataclasses.replace(item, **changes) if changes else item


def _arg_problem(arg: modules.Arg, value: Any) -> str:
    """What is wrong with one literal argument value ("" when fine or a template)."""
    if value is None or _has_template(value):
        return ""
    if arg.choices and not isinstance(value, list | dict):
        allowed = [str(c).lower() if isinstance(c, bool) else str(c) for c in arg.choices]
        shown = str(value).lower() if isinstance(value, bool) else str(value)
        if shown not in allowed and not (arg.type == "bool" and _bool_or_none(value) is not None):
            return f"value {value!r} is not one of {', '.join(allowed)}"
    kind = arg.type
    if kind == "bool" and _bool_or_none(value) is None:
        return f"{value!r} is not a boolean"
    if kind == "int" and not _int_like(value):
        return f"{value!r} is not an integer"
    if kind == "float" and not _float_like(value):
        return f"{value!r} is not a number"
    if kind == "list" and isinstance(value, dict):
        return "a list is expected, not a mapping"
    if kind == "dict" and isinstance(value, list):
        return "a mapping is expected, not a list"
    if kind in ("str", "path") and isinstance(value, dict | list):
        return f"a string is expected, not a {'mapping' if isinstance(value, dict) else 'list'}"
    return ""


def _arg_hint(arg: modules.Arg) -> str:
    if arg.choices:
        return "one of " + ", ".join(str(c) for c in arg.choices)
    return f"a {arg.type} value"


def _bool_or_none(value: Any) -> bool | None:
    try:
        result = _bool(value)
    except ValueError:
        return None
    return result if isinstance(result, bool) else None


def _int_like(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    if isinstance(value, float):
        return value.is_integer()
    return isinstance(value, str) and value.strip().lstrip("+-").isdigit()


def _float_like(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return True
    try:
        float(str(value))
    except ValueError:
        return False
    return True


def iter_tasks(items: Iterable[TaskOrBlock]) -> Iterator[Task]:
    """Every task inside a list of tasks and blocks, depth first (tests, --list-tasks)."""
    for item in items:
        if isinstance(item, Block):
            yield from iter_tasks(item.block)
            yield from iter_tasks(item.rescue)
            yield from iter_tasks(item.always)
        else:
            yield item
