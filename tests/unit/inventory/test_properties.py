"""Property tests: random inventories and host patterns, each compared with ansible-core."""

from __future__ import annotations

import json
import shlex
import tempfile
from pathlib import Path
from typing import Any

import yaml
from conftest import normalize
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestr.errors import OrchestrError
from orchestr.inventory import load_inventory
from orchestr.inventory.cli import hosts_to_target
from orchestr.inventory.render import dump_json, list_data

SETTINGS = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=False,
)

GROUPS = ["web", "db", "edge", "eu", "grp_5", "zone"]
HOSTS = ["h1", "h2", "alpha.example.com", "10.0.0.7", "node-x", "web[1:3]", "db[01:02]", "r[a:b]"]
KEYS = ["a", "b", "c", "ansible_user"]

scalars = st.one_of(
    st.integers(min_value=-5, max_value=5000),
    st.booleans(),
    st.sampled_from(["x", "yes", "FALSE", "text1", "None"]),
)
values = st.one_of(scalars, st.lists(st.integers(0, 9), max_size=3))
var_maps = st.dictionaries(st.sampled_from(KEYS), values, max_size=3)


@st.composite
def inventories(draw: Any) -> dict[str, Any]:
    groups = draw(st.lists(st.sampled_from(GROUPS), min_size=1, max_size=5, unique=True))
    hosts = draw(st.lists(st.sampled_from(HOSTS), min_size=1, max_size=6, unique=True))
    # Edges only go from earlier to later groups, so there are no cycles.
    edges = [
        (p, c)
        for i, p in enumerate(groups)
        for c in groups[i + 1 :]
        if draw(st.booleans()) and draw(st.booleans())
    ]
    members = {h: draw(st.lists(st.sampled_from(groups), max_size=3, unique=True)) for h in hosts}
    group_vars = {g: draw(var_maps) for g in groups}
    priorities = {g: draw(st.sampled_from([None, None, 1, 5, 20])) for g in groups}
    return {
        "format": draw(st.sampled_from(["ini", "yaml", "json"])),
        "groups": groups,
        "edges": edges,
        "members": members,
        "host_vars": {h: draw(var_maps) for h in hosts},
        "group_vars": group_vars,
        "priorities": priorities,
        "all_vars": draw(var_maps),
        "group_vars_files": {g: draw(var_maps) for g in ["all", *groups] if draw(st.booleans())},
        "host_vars_files": {
            h: draw(var_maps) for h in hosts if "[" not in h and draw(st.booleans())
        },
    }


def _ini_value(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ",".join(str(v) for v in value) + "]"
    return str(value)


def write_ini(spec: dict[str, Any]) -> str:
    lines: list[str] = []
    for host, groups in spec["members"].items():
        if not groups:
            lines.append(_ini_host(host, spec["host_vars"][host]))
    for group in spec["groups"]:
        lines.append(f"[{group}]")
        for host, groups in spec["members"].items():
            if group in groups:
                first = groups[0] == group
                lines.append(_ini_host(host, spec["host_vars"][host] if first else {}))
        children = [c for p, c in spec["edges"] if p == group]
        if children:
            lines.append(f"[{group}:children]")
            lines.extend(children)
        variables = dict(spec["group_vars"][group])
        if spec["priorities"][group] is not None:
            variables["ansible_group_priority"] = spec["priorities"][group]
        if variables:
            lines.append(f"[{group}:vars]")
            lines.extend(f"{k}={_ini_value(v)}" for k, v in variables.items())
    if spec["all_vars"]:
        lines.append("[all:vars]")
        lines.extend(f"{k}={_ini_value(v)}" for k, v in spec["all_vars"].items())
    return "\n".join(lines) + "\n"


def _ini_host(host: str, variables: dict[str, Any]) -> str:
    return " ".join([host, *(shlex.quote(f"{k}={_ini_value(v)}") for k, v in variables.items())])


def yaml_data(spec: dict[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = {"all": {"vars": spec["all_vars"], "hosts": {}, "children": {}}}
    for host, groups in spec["members"].items():
        if not groups:
            data["all"]["hosts"][host] = spec["host_vars"][host] or None
    for group in spec["groups"]:
        entry: dict[str, Any] = {"hosts": {}, "vars": dict(spec["group_vars"][group])}
        if spec["priorities"][group] is not None:
            entry["vars"]["ansible_group_priority"] = spec["priorities"][group]
        for host, groups in spec["members"].items():
            if group in groups:
                first = groups[0] == group
                entry["hosts"][host] = (spec["host_vars"][host] if first else None) or None
        entry["children"] = {c: None for p, c in spec["edges"] if p == group}
        data[group] = entry
    return data


def materialize(spec: dict[str, Any], root: Path) -> str:
    """Write the inventory and its vars files; returns the -i source."""
    if spec["format"] == "ini":
        source = root / "hosts"
        source.write_text(write_ini(spec), encoding="utf-8")
    elif spec["format"] == "yaml":
        source = root / "hosts.yml"
        source.write_text(yaml.safe_dump(yaml_data(spec), sort_keys=False), encoding="utf-8")
    else:
        source = root / "hosts.json"
        source.write_text(json.dumps(yaml_data(spec)), encoding="utf-8")
    for kind, files in (("group_vars", "group_vars_files"), ("host_vars", "host_vars_files")):
        if spec[files]:
            (root / kind).mkdir()
            for name, variables in spec[files].items():
                (root / kind / f"{name}.yml").write_text(yaml.safe_dump(variables), "utf-8")
    return str(source)


def _text(data: Any) -> str:
    return json.dumps(normalize(data), sort_keys=True)


@SETTINGS
@given(spec=inventories())
def test_random_inventories_match_ansible(spec: dict[str, Any], oracle) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        source = materialize(spec, Path(tmp))
        expected = oracle.inventory(["-i", source, "--list"])
        assert expected.returncode == 0, expected.stderr
        assert "parse" not in expected.stderr, expected.stderr
        ours = json.loads(dump_json(list_data(load_inventory([source]))))
        assert _text(ours) == _text(json.loads(expected.stdout))


ATOMS = st.one_of(
    st.sampled_from(GROUPS + ["all", "ungrouped", "nomatch"]),
    st.sampled_from(["h1", "h2", "alpha.example.com", "10.0.0.7", "web2", "db01", "ra"]),
    st.sampled_from(["h*", "*.com", "web?", "db0*", "e*", "~h[12]", "~.*\\.example", "*"]),
    st.builds(
        lambda g, s: g + s,
        st.sampled_from(GROUPS + ["all"]),
        st.sampled_from(["[0]", "[1]", "[-1]", "[1:]", "[0:1]", "[5]"]),
    ),
)


@st.composite
def patterns(draw: Any) -> str:
    atoms = draw(st.lists(ATOMS, min_size=1, max_size=4))
    separator = draw(st.sampled_from([",", ":"]))
    text = atoms[0]
    for atom in atoms[1:]:
        text += separator + draw(st.sampled_from(["", "&", "!"])) + atom
    return text


def _ours_hosts(source: str, pattern: str, limit: str | None) -> list[str]:
    try:
        return [h.name for h in hosts_to_target(load_inventory([source]), pattern, limit)]
    except OrchestrError:
        return ["<error>"]


@SETTINGS
@given(spec=inventories(), pattern=patterns(), limit=st.one_of(st.none(), patterns()))
def test_random_patterns_match_ansible(spec: dict[str, Any], pattern: str, limit, oracle) -> None:
    spec = {**spec, "format": "ini"}
    if ":" in pattern and "~" in pattern:
        pattern = pattern.replace(":", ",")
    with tempfile.TemporaryDirectory() as tmp:
        source = materialize(spec, Path(tmp))
        expected = oracle.list_hosts([source], pattern, limit)
        ours = _ours_hosts(source, pattern, limit)
        if spec["edges"]:
            # Ansible walks nested groups through Python sets: only membership is stable.
            assert sorted(ours) == sorted(expected)
        else:
            assert ours == expected
