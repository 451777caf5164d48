"""Every corpus inventory must read exactly as ansible-inventory reads it."""

from __future__ import annotations

import json

import pytest
from conftest import CORPUS, corpus_args, corpus_items, normalize, split_args

from orchestr.inventory import load_inventory
from orchestr.inventory.render import dump_json, graph, list_data

ITEMS = corpus_items()


@pytest.fixture(autouse=True)
def ansible_default_duplicate_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    """The corpus is compared with ansible-core's defaults, where a duplicate YAML key warns
    (orchestr refuses it unless told to behave this way)."""
    monkeypatch.setenv("ANSIBLE_DUPLICATE_YAML_DICT_KEY", "warn")


def _text(data: object) -> str:
    # Compared as canonical JSON text so that NaN equals NaN.
    return json.dumps(data, sort_keys=True, indent=1, ensure_ascii=False)


def test_corpus_is_large_enough() -> None:
    assert len(ITEMS) >= 40
    kinds = {name.split("_")[0] for name in ITEMS}
    assert {"ini", "yaml", "json", "dir", "hostlist"} <= kinds


def _ours(name: str):
    sources, playbook_dir = split_args(corpus_args(name))
    return load_inventory(sources, playbook_dir=playbook_dir)


@pytest.mark.parametrize("name", ITEMS)
def test_list_matches_ansible(name: str, corpus_oracle) -> None:
    expected = corpus_oracle[name]["list"]
    assert expected.returncode == 0, expected.stderr
    # ansible-inventory only warns about sources it cannot parse; make sure it parsed them all.
    assert "Unable to parse" not in expected.stderr and "Failed to parse" not in expected.stderr
    ours = json.loads(dump_json(list_data(_ours(name))))
    assert _text(normalize(ours)) == _text(normalize(json.loads(expected.stdout)))


@pytest.mark.parametrize("name", ITEMS)
def test_graph_vars_matches_ansible(name: str, corpus_oracle) -> None:
    expected = corpus_oracle[name]["graph"]
    assert expected.returncode == 0, expected.stderr
    assert graph(_ours(name), "all", show_vars=True) == expected.stdout.rstrip("\n")


@pytest.mark.parametrize(
    ("name", "host"),
    [
        ("ini_typing.ini", "h1"),
        ("ini_nested_vars_precedence.ini", "h2"),
        ("yaml_vars_types.yml", "h1"),
        ("dir_playbook_wins", "w1"),
        ("dir_precedence", "h1"),
        ("ini_localhost.ini", "localhost"),
        ("ini_basic.ini", "127.0.0.1"),
    ],
)
def test_host_matches_ansible(name: str, host: str, oracle) -> None:
    args = corpus_args(name)
    expected = oracle.inventory([*args, "--host", host])
    assert expected.returncode == 0, expected.stderr
    selected = _ours(name).select(host)
    assert len(selected) == 1
    ours = json.loads(dump_json(dict(selected[0].vars), markers=False))
    assert _text(ours) == _text(json.loads(expected.stdout))


def test_corpus_paths_exist() -> None:
    for name in ITEMS:
        assert (CORPUS / name).exists()
