"""molecule/NAME/molecule.yml read into a Scenario value (pure: text in, value or errors out).

The layout is Molecule's (driver, platforms, provisioner, verifier, scenario); what orchestr's
lab cannot honour is refused with file:line:column and a hint rather than ignored, so a scenario
never silently tests something other than what it says.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from orchestr.errors import Location, OptionsError, ParseError, ParseErrors
from orchestr.lab.model import check_lab_name

FILE_NAME = "molecule.yml"
DRIVER = "orchestr-lab"
PROVISIONER = "orchestr"
# verify.yml is an Ansible playbook either way; orchestr runs it.
VERIFIERS = ("orchestr", "ansible")

# Molecule's action names, the ones orchestr implements.
ACTIONS = (
    "destroy", "syntax", "create", "prepare", "converge", "idempotence", "side_effect",
    "verify", "cleanup",
)  # fmt: skip
# Molecule's default test sequence without dependency and lint: start clean, check the playbooks
# load, make the lab, converge twice (the second must change nothing), verify, clean up.
DEFAULT_TEST_SEQUENCE = (
    "destroy", "syntax", "create", "prepare", "converge", "idempotence", "verify", "destroy",
)  # fmt: skip
# Playbooks a scenario may name under provisioner.playbooks, with Molecule's default files.
# converge and verify are always looked for; prepare and cleanup run when their file is there;
# side_effect only when named.
PLAYBOOK_DEFAULTS = {
    "prepare": "prepare.yml",
    "converge": "converge.yml",
    "side_effect": None,
    "verify": "verify.yml",
    "cleanup": "cleanup.yml",
}
REQUIRED_PLAYBOOKS = ("converge", "verify")
# Which playbook each action runs.
ACTION_PLAYBOOK = {
    "prepare": "prepare",
    "converge": "converge",
    "idempotence": "converge",
    "side_effect": "side_effect",
    "verify": "verify",
    "cleanup": "cleanup",
}
# Environment variables the run sets itself: a scenario cannot point them elsewhere.
RESERVED_ENV = (
    "ORCHESTR_STATE_DIR", "ORCHESTR_STORE", "ORCHESTR_ZONE_FILE", "ORCHESTR_INVENTORY",
    "ORCHESTR_LAB",
)  # fmt: skip
GROUP_NODES = "nodes"
GROUP_LB = "lb"
LAB_GROUPS = ("lab", GROUP_NODES, GROUP_LB)
ROLE_NODE = "node"
ROLE_LB = "lb"
LB_HOST = "lb1"
DEFAULT_LAB_PREFIX = "molecule"

_SCENARIO_NAME = re.compile(r"^[a-z][a-z0-9-]*$")
_NODE_NAME = re.compile(r"^node([1-9][0-9]*)$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

# Molecule settings orchestr does not implement, and what to do instead.
_UNSUPPORTED_TOP = {
    "dependency": "orchestr installs no roles or collections: remove it",
    "lint": "run linters outside the scenario: remove it",
    "log": "remove it",
    "prerun": "remove it",
    "role_name_check": "remove it",
    "shared_state": "each scenario has its own lab: remove it",
    "ansible": "orchestr runs the playbooks itself: remove it",
}
_UNSUPPORTED_PLATFORM = "every lab host runs the lab host image (sshd and dockerd); remove it"
_UNSUPPORTED_PROVISIONER = {
    "inventory": "the inventory is the lab's (groups lab, nodes, lb; host var zone): use "
    "group_vars/host_vars next to the playbooks instead",
    "options": "pass variables with set_fact or vars in the playbooks",
    "config_options": "orchestr reads no ansible.cfg: remove it",
    "connection_options": "the lab's SSH settings are in its inventory: remove it",
    "log": "remove it",
    "lint": "remove it",
    "children": "remove it",
}
_UNSUPPORTED_SCENARIO = {
    key: "use `orchestr scenario create|converge|verify|destroy`, whose steps are fixed"
    for key in (
        "check_sequence", "cleanup_sequence", "converge_sequence", "create_sequence",
        "destroy_sequence", "dependency_sequence", "lint_sequence", "prepare_sequence",
        "side_effect_sequence", "syntax_sequence", "verify_sequence",
    )
}  # fmt: skip


@dataclass(frozen=True)
class Platform:
    """One `platforms:` entry: `count` lab hosts of one role."""

    name: str
    role: str  # node | lb
    count: int = 1
    groups: tuple[str, ...] = ()


@dataclass(frozen=True)
class Scenario:
    name: str
    directory: str
    source: str  # the molecule.yml it was read from
    platforms: tuple[Platform, ...]
    nodes: int
    lb: bool
    # action -> playbook path (converge, verify, and prepare/side_effect/cleanup when there)
    playbooks: Mapping[str, str] = field(default_factory=dict)
    env: Mapping[str, str] = field(default_factory=dict)
    test_sequence: tuple[str, ...] = DEFAULT_TEST_SEQUENCE

    @property
    def hosts(self) -> tuple[str, ...]:
        """The lab's host names, as `orchestr lab up --hosts N [--lb]` makes them."""
        names = tuple(f"node{i}" for i in range(1, self.nodes + 1))
        return (*names, LB_HOST) if self.lb else names

    def playbook_for(self, action: str) -> str | None:
        """The playbook an action runs (None: the action runs none, or it is not there)."""
        key = ACTION_PLAYBOOK.get(action)
        return self.playbooks.get(key) if key else None


def lab_name(scenario: str, prefix: str | None = None, override: str | None = None) -> str:
    """The lab a scenario runs on: PREFIX-SCENARIO (PREFIX: $ORCHESTR_TEST_LAB when set, so two
    sessions on one machine do not share labs), or the name given with --lab."""
    name = override or f"{prefix or DEFAULT_LAB_PREFIX}-{scenario}"
    try:
        return check_lab_name(name)
    except OptionsError as error:
        hint = error.hint if override else f"{error.hint}; or pass one with --lab NAME"
        raise OptionsError(f"scenario {scenario!r}: {error.message}", hint=hint) from None


def did_you_mean(word: str, choices: list[str] | tuple[str, ...]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    known = ", ".join(choices)
    return f"did you mean {close[0]!r}? (known: {known})" if close else f"known: {known}"


class _Reader:
    """Walks the composed YAML nodes, collecting every problem with its location."""

    def __init__(self, path: str):
        self.path = path
        self.errors: list[ParseError] = []
        self._constructor = yaml.SafeLoader("")

    def where(self, node: yaml.Node | None) -> Location:
        if node is None:
            return Location(self.path)
        mark = node.start_mark
        return Location(self.path, mark.line + 1, mark.column + 1)

    def error(self, node: yaml.Node | None, message: str, hint: str = "") -> None:
        self.errors.append(ParseError(message, hint=hint, location=self.where(node)))

    def value(self, node: yaml.Node) -> Any:
        return self._constructor.construct_object(node, deep=True)

    def mapping(self, node: yaml.Node, what: str, hint: str = "",
                ) -> dict[str, tuple[yaml.Node, yaml.Node]] | None:  # fmt: skip
        """key -> (key node, value node); None (and an error) when it is not a mapping."""
        if not isinstance(node, yaml.MappingNode):
            self.error(node, f"{what} must be a mapping, not {_kind(node)}", hint)
            return None
        items: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        for key_node, value_node in node.value:
            key = self.value(key_node) if isinstance(key_node, yaml.ScalarNode) else None
            if not isinstance(key, str):
                self.error(key_node, f"{what}: keys must be strings")
                continue
            if key in items:
                self.error(key_node, f"{what}: duplicate key {key!r}", "remove one of them")
                continue
            items[key] = (key_node, value_node)
        return items

    def check_keys(self, items: dict[str, tuple[yaml.Node, yaml.Node]], what: str,
                   allowed: tuple[str, ...], unsupported: Mapping[str, str] | None = None,
                   ) -> None:  # fmt: skip
        for key, (key_node, _) in items.items():
            if key in allowed:
                continue
            if unsupported and key in unsupported:
                self.error(
                    key_node, f"{what}: {key!r} is not supported by orchestr", unsupported[key]
                )
            else:
                self.error(key_node, f"{what}: unknown key {key!r}", did_you_mean(key, allowed))

    def string(self, node: yaml.Node, what: str) -> str | None:
        value = self.value(node) if isinstance(node, yaml.ScalarNode) else None
        if not isinstance(value, str) or not value:
            self.error(node, f"{what} must be a non-empty string, not {_kind(node)}")
            return None
        return value

    def integer(self, node: yaml.Node, what: str, minimum: int) -> int | None:
        value = self.value(node) if isinstance(node, yaml.ScalarNode) else None
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            self.error(node, f"{what} must be a whole number of at least {minimum}",
                       f"got {_kind(node)}")  # fmt: skip
            return None
        return value

    def string_list(self, node: yaml.Node, what: str) -> list[tuple[str, yaml.Node]] | None:
        if not isinstance(node, yaml.SequenceNode):
            self.error(node, f"{what} must be a list, not {_kind(node)}")
            return None
        found = []
        for item in node.value:
            text = self.string(item, f"each entry of {what}")
            if text is not None:
                found.append((text, item))
        return found


def _kind(node: yaml.Node | None) -> str:
    if node is None:
        return "nothing"
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    if node.tag.endswith(":null"):
        return "null"
    return f"{node.tag.rsplit(':', 1)[-1]} {node.value!r}"


def parse_scenario(text: str, path: str, exists: Callable[[str], bool]) -> Scenario:
    """A Scenario from molecule.yml's text. `path` names the file (its folder is the scenario's
    name); `exists` answers whether a playbook path is there. Raises ParseError (one problem) or
    ParseErrors (several), each with file:line:column and a hint."""
    reader = _Reader(path)
    directory = os.path.dirname(path) or "."
    name = os.path.basename(os.path.abspath(directory))
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
        location = Location(path, mark.line + 1, mark.column + 1) if mark else Location(path)
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise ParseError(f"invalid YAML: {problem}", location=location,
                         hint="check indentation and quoting near that line") from None  # fmt: skip
    if root is None:
        raise ParseError(
            "molecule.yml is empty",
            hint="it needs at least `platforms:`; see molecule/default/molecule.yml",
            location=Location(path),
        )
    if not _SCENARIO_NAME.match(name):
        reader.error(None, f"scenario folder name {name!r} is not usable as a lab name",
                     "rename the folder: lower case letters, digits and '-'")  # fmt: skip
    top = reader.mapping(root, "molecule.yml", "see molecule/default/molecule.yml")
    if top is None:
        raise reader.errors[0]
    reader.check_keys(top, "molecule.yml",
                      ("driver", "platforms", "provisioner", "verifier", "scenario"),
                      _UNSUPPORTED_TOP)  # fmt: skip

    _driver(reader, top)
    platforms = _platforms(reader, top, root)
    playbook_names, playbook_nodes, env = _provisioner(reader, top)
    _verifier(reader, top)
    sequence = _scenario_section(reader, top, name)

    nodes, lb = _shape(reader, platforms)
    playbooks = _playbooks(reader, directory, playbook_names, playbook_nodes, sequence, exists)
    if reader.errors:
        # In file order; problems of the whole file (no line) last.
        errors = sorted(
            reader.errors, key=lambda e: (e.location.line or 1 << 30, e.location.column)
        )
        raise errors[0] if len(errors) == 1 else ParseErrors(errors)
    return Scenario(
        name=name, directory=directory, source=path,
        platforms=tuple(p for p, _ in platforms), nodes=nodes, lb=lb,
        playbooks=playbooks, env=env, test_sequence=sequence,
    )  # fmt: skip


def _driver(reader: _Reader, top: dict) -> None:
    if "driver" not in top:
        return  # the only driver there is
    _, node = top["driver"]
    items = reader.mapping(node, "driver")
    if items is None:
        return
    reader.check_keys(items, "driver", ("name",),
                      {"options": "the orchestr-lab driver takes no options: remove them"})  # fmt: skip
    if "name" in items:
        value = reader.string(items["name"][1], "driver.name")
        if value is not None and value != DRIVER:
            reader.error(items["name"][1], f"driver {value!r} is not supported",
                         f"use `driver: {{name: {DRIVER}}}`: the hosts are an orchestr lab")  # fmt: skip


def _platforms(reader: _Reader, top: dict, root: yaml.Node) -> list[tuple[Platform, yaml.Node]]:
    if "platforms" not in top:
        reader.error(root, "molecule.yml has no `platforms:`",
                     "add e.g. `platforms: [{name: node, count: 3, groups: [nodes]}, "
                     "{name: lb1, groups: [lb]}]`")  # fmt: skip
        return []
    _, node = top["platforms"]
    if not isinstance(node, yaml.SequenceNode) or not node.value:
        reader.error(node, "platforms must be a non-empty list",
                     "e.g. `- {name: node, count: 3, groups: [nodes]}`")  # fmt: skip
        return []
    found = []
    for entry in node.value:
        platform = _platform(reader, entry)
        if platform is not None:
            found.append((platform, entry))
    return found


def _platform(reader: _Reader, node: yaml.Node) -> Platform | None:
    items = reader.mapping(node, "a platform", "e.g. `{name: node, count: 3, groups: [nodes]}`")
    if items is None:
        return None
    reader.check_keys(items, "platform", ("name", "count", "groups"),
                      {k: _UNSUPPORTED_PLATFORM for k in (
                          "image", "pre_build_image", "dockerfile", "command", "privileged",
                          "volumes", "networks", "box", "memory", "cpus", "hostname",
                          "capabilities", "tmpfs", "env", "exposed_ports", "published_ports",
                      )})  # fmt: skip
    if "name" not in items:
        reader.error(node, "a platform needs a name", "`name: node` (with count) or `name: lb1`")
        return None
    name_node = items["name"][1]
    name = reader.string(name_node, "platform name")
    if name is None:
        return None
    count = 1
    if "count" in items:
        count = reader.integer(items["count"][1], f"platform {name}: count", 1) or 1
    groups: tuple[str, ...] = ()
    groups_node = items["groups"][1] if "groups" in items else None
    if groups_node is not None:
        listed = reader.string_list(groups_node, f"platform {name}: groups") or []
        for group, group_node in listed:
            if group not in LAB_GROUPS:
                reader.error(group_node, f"platform {name}: the lab has no group {group!r}",
                             "a lab's groups are lab, nodes and lb (put other groups in "
                             "the playbook's hosts patterns)")  # fmt: skip
        groups = tuple(group for group, _ in listed)
    if GROUP_LB in groups and GROUP_NODES in groups:
        reader.error(groups_node, f"platform {name} cannot be in both nodes and lb",
                     "declare the load balancer as its own platform")  # fmt: skip
        return None
    if GROUP_LB in groups:
        role = ROLE_LB
    elif GROUP_NODES in groups:
        role = ROLE_NODE
    elif name.startswith("lb"):
        role = ROLE_LB
    elif name.startswith("node"):
        role = ROLE_NODE
    else:
        reader.error(groups_node or name_node,
                     f"platform {name}: cannot tell whether it is a node or the load balancer",
                     "add `groups: [nodes]` or `groups: [lb]`")  # fmt: skip
        return None
    if role == ROLE_LB:
        if name != LB_HOST:
            reader.error(name_node, f"the load-balancer platform must be named {LB_HOST!r}",
                         f"the lab names its load balancer {LB_HOST}")  # fmt: skip
        if count != 1:
            reader.error(items["count"][1], "a lab has one load balancer: count must be 1",
                         "remove the count")  # fmt: skip
    elif name != "node" and not _NODE_NAME.match(name):
        reader.error(name_node, f"platform {name!r}: the lab names its hosts node1..nodeN",
                     "name it `node` (with count: N) or `nodeK`")  # fmt: skip
    elif name != "node" and count != 1:
        reader.error(items["count"][1], f"platform {name} is one host: count must be 1",
                     "use `name: node` with a count for several")  # fmt: skip
    if not groups:
        groups = (GROUP_LB,) if role == ROLE_LB else (GROUP_NODES,)
    return Platform(name, role, count, groups)


def _shape(reader: _Reader, platforms: list[tuple[Platform, yaml.Node]]) -> tuple[int, bool]:
    """(nodes, lb) for `orchestr lab up --hosts N [--lb]`, checking the names fit that shape."""
    nodes = sum(p.count for p, _ in platforms if p.role == ROLE_NODE)
    lbs = [(p, node) for p, node in platforms if p.role == ROLE_LB]
    for _, node in lbs[1:]:
        reader.error(node, "a lab has one load balancer: a second lb platform",
                     "remove all but one")  # fmt: skip
    if platforms and nodes == 0:
        reader.error(platforms[0][1], "the platforms declare no node",
                     "add `- {name: node, count: 3, groups: [nodes]}`")  # fmt: skip
    seen: dict[int, yaml.Node] = {}
    for platform, node in platforms:
        match = _NODE_NAME.match(platform.name) if platform.role == ROLE_NODE else None
        if match is None:
            continue
        index = int(match.group(1))
        if index in seen:
            reader.error(node, f"platform {platform.name} is declared twice", "remove one")
        elif index > nodes:
            reader.error(node, f"platform {platform.name} is beyond the {nodes} nodes declared",
                         f"the lab's nodes are node1..node{nodes}: rename it or raise a count")  # fmt: skip
        seen[index] = node
    return nodes, bool(lbs)


def _provisioner(reader: _Reader, top: dict,
                 ) -> tuple[dict[str, str], dict[str, yaml.Node], dict[str, str]]:  # fmt: skip
    """(action -> playbook as written, action -> its node, env) from provisioner:."""
    names: dict[str, str] = {}
    nodes: dict[str, yaml.Node] = {}
    env: dict[str, str] = {}
    if "provisioner" not in top:
        return names, nodes, env
    items = reader.mapping(top["provisioner"][1], "provisioner")
    if items is None:
        return names, nodes, env
    reader.check_keys(items, "provisioner", ("name", "playbooks", "env"),
                      _UNSUPPORTED_PROVISIONER)  # fmt: skip
    if "name" in items:
        value = reader.string(items["name"][1], "provisioner.name")
        if value is not None and value != PROVISIONER:
            reader.error(items["name"][1], f"provisioner {value!r} is not supported",
                         f"use `provisioner: {{name: {PROVISIONER}}}`: `orchestr apply` runs "
                         "the playbooks")  # fmt: skip
    if "playbooks" in items:
        books = reader.mapping(items["playbooks"][1], "provisioner.playbooks") or {}
        reader.check_keys(books, "provisioner.playbooks", tuple(PLAYBOOK_DEFAULTS),
                          {"create": "the orchestr-lab driver makes the lab itself: remove it",
                           "destroy": "the orchestr-lab driver removes the lab itself: "
                                      "remove it"})  # fmt: skip
        for key, (_, value_node) in books.items():
            if key in PLAYBOOK_DEFAULTS:
                value = reader.string(value_node, f"provisioner.playbooks.{key}")
                if value is not None:
                    names[key], nodes[key] = value, value_node
    if "env" in items:
        variables = reader.mapping(items["env"][1], "provisioner.env") or {}
        for key, (key_node, value_node) in variables.items():
            if not _ENV_NAME.match(key):
                reader.error(key_node, f"provisioner.env: {key!r} is not a variable name",
                             "letters, digits and '_', not starting with a digit")  # fmt: skip
                continue
            if key in RESERVED_ENV:
                reader.error(key_node, f"provisioner.env: {key} is set by the scenario run",
                             "each run has its own store, zone file, inventory and lab: "
                             "remove it")  # fmt: skip
                continue
            value = reader.value(value_node) if isinstance(value_node, yaml.ScalarNode) else []
            if isinstance(value, bool):
                env[key] = "true" if value else "false"
            elif isinstance(value, str | int | float):
                env[key] = str(value)
            else:
                reader.error(value_node, f"provisioner.env.{key} must be a string or a number",
                             f"got {_kind(value_node)}; quote it")  # fmt: skip
    return names, nodes, env


def _verifier(reader: _Reader, top: dict) -> None:
    if "verifier" not in top:
        return
    items = reader.mapping(top["verifier"][1], "verifier")
    if items is None:
        return
    reader.check_keys(items, "verifier", ("name",))
    if "name" in items:
        value = reader.string(items["name"][1], "verifier.name")
        if value is not None and value not in VERIFIERS:
            reader.error(items["name"][1], f"verifier {value!r} is not supported",
                         "verify.yml is a playbook of assertions run by `orchestr apply`: "
                         "use `verifier: {name: orchestr}`")  # fmt: skip


def _scenario_section(reader: _Reader, top: dict, name: str) -> tuple[str, ...]:
    if "scenario" not in top:
        return DEFAULT_TEST_SEQUENCE
    items = reader.mapping(top["scenario"][1], "scenario")
    if items is None:
        return DEFAULT_TEST_SEQUENCE
    reader.check_keys(items, "scenario", ("name", "test_sequence"), _UNSUPPORTED_SCENARIO)
    if "name" in items:
        value = reader.string(items["name"][1], "scenario.name")
        if value is not None and value != name:
            reader.error(items["name"][1],
                         f"scenario.name {value!r} differs from its folder's name {name!r}",
                         "a scenario is named by its folder: remove scenario.name or rename "
                         "the folder")  # fmt: skip
    if "test_sequence" not in items:
        return DEFAULT_TEST_SEQUENCE
    node = items["test_sequence"][1]
    listed = reader.string_list(node, "scenario.test_sequence")
    if listed is None:
        return DEFAULT_TEST_SEQUENCE
    if not listed:
        reader.error(node, "scenario.test_sequence is empty",
                     f"remove it for the default: {', '.join(DEFAULT_TEST_SEQUENCE)}")  # fmt: skip
    sequence = []
    for action, action_node in listed:
        if action not in ACTIONS:
            hint = did_you_mean(action, ACTIONS)
            if action in ("dependency", "lint", "check"):
                hint = f"orchestr has no {action} action; {hint}"
            reader.error(action_node, f"unknown action {action!r}", hint)
        else:
            sequence.append(action)
    return tuple(sequence)


def _playbooks(reader: _Reader, directory: str, names: dict[str, str],
               nodes: dict[str, yaml.Node], sequence: tuple[str, ...],
               exists: Callable[[str], bool]) -> dict[str, str]:  # fmt: skip
    """action -> playbook path: the named ones (they must be there), else Molecule's defaults
    (converge.yml and verify.yml must be there when the sequence runs them)."""
    needed = {ACTION_PLAYBOOK[a] for a in sequence if a in ACTION_PLAYBOOK}
    found: dict[str, str] = {}
    for key, default in PLAYBOOK_DEFAULTS.items():
        written = names.get(key)
        candidate = written or default
        if candidate is None:
            continue
        path = os.path.normpath(os.path.join(directory, candidate))
        if exists(path):
            found[key] = path
        elif written is not None:
            reader.error(nodes[key], f"provisioner.playbooks.{key}: {path} not found",
                         f"paths are relative to {directory}")  # fmt: skip
        elif key in REQUIRED_PLAYBOOKS and key in needed:
            reader.error(None, f"the scenario has no {key} playbook: {path} not found",
                         f"write {candidate} next to molecule.yml, or name another with "
                         f"provisioner.playbooks.{key}")  # fmt: skip
    return found
