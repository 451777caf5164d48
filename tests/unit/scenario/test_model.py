"""molecule.yml read into a Scenario: Molecule's layout, the lab's shape, every error located."""

from __future__ import annotations

import pytest

from orchestr.errors import EXIT_PARSER_ERROR, OptionsError, ParseError, ParseErrors
from orchestr.scenario.model import (
    DEFAULT_TEST_SEQUENCE,
    Platform,
    Scenario,
    lab_name,
    parse_scenario,
)

PATH = "molecule/default/molecule.yml"
BOTH = {"molecule/default/converge.yml", "molecule/default/verify.yml"}

FULL = """\
driver:
  name: orchestr-lab
platforms:
  - name: node
    count: 3
    groups: [nodes]
  - name: lb1
    groups: [lb]
provisioner:
  name: orchestr
  playbooks:
    converge: converge.yml
    verify: verify.yml
  env:
    MODE: test
    RETRIES: 3
    DEBUG: true
verifier:
  name: orchestr
"""


def parse(text: str, files=BOTH, path: str = PATH) -> Scenario:
    return parse_scenario(text, path, lambda candidate: candidate in files)


def problems(text: str, files=BOTH) -> list[str]:
    with pytest.raises(ParseError) as caught:
        parse(text, files)
    error = caught.value
    assert error.exit_code == EXIT_PARSER_ERROR
    return error.lines()


def test_molecule_layout_becomes_a_lab_shape_playbooks_and_env():
    scenario = parse(FULL)
    assert scenario.name == "default"
    assert scenario.directory == "molecule/default"
    assert (scenario.nodes, scenario.lb) == (3, True)
    assert scenario.hosts == ("node1", "node2", "node3", "lb1")
    assert scenario.platforms == (
        Platform("node", "node", 3, ("nodes",)),
        Platform("lb1", "lb", 1, ("lb",)),
    )
    assert scenario.playbooks == {
        "converge": "molecule/default/converge.yml",
        "verify": "molecule/default/verify.yml",
    }
    assert scenario.env == {"MODE": "test", "RETRIES": "3", "DEBUG": "true"}
    assert scenario.test_sequence == DEFAULT_TEST_SEQUENCE
    assert scenario.playbook_for("idempotence") == "molecule/default/converge.yml"
    assert scenario.playbook_for("create") is None


def test_the_least_there_is_platforms_and_default_playbooks():
    scenario = parse("platforms:\n  - name: node1\n")
    assert (scenario.nodes, scenario.lb) == (1, False)
    assert scenario.hosts == ("node1",)
    assert scenario.platforms[0].groups == ("nodes",)
    assert set(scenario.playbooks) == {"converge", "verify"}


def test_optional_playbooks_are_used_when_their_file_is_there():
    files = BOTH | {"molecule/default/prepare.yml", "molecule/default/cleanup.yml"}
    scenario = parse("platforms: [{name: node}]\n", files)
    assert scenario.playbooks["prepare"] == "molecule/default/prepare.yml"
    assert scenario.playbooks["cleanup"] == "molecule/default/cleanup.yml"
    assert "side_effect" not in scenario.playbooks  # only when named


def test_playbooks_elsewhere_are_resolved_from_the_scenario_folder():
    text = (
        "platforms: [{name: node}]\n"
        "provisioner:\n  playbooks:\n    converge: ../../playbooks/site.yml\n"
        "    side_effect: chaos.yml\n"
    )
    files = BOTH | {"playbooks/site.yml", "molecule/default/chaos.yml"}
    scenario = parse(text, files)
    assert scenario.playbooks["converge"] == "playbooks/site.yml"
    assert scenario.playbooks["side_effect"] == "molecule/default/chaos.yml"


def test_single_named_nodes_and_counts_combine_into_node1_to_n():
    text = "platforms:\n  - {name: node, count: 2}\n  - {name: node3, groups: [nodes, lab]}\n"
    scenario = parse(text)
    assert scenario.nodes == 3
    assert scenario.hosts == ("node1", "node2", "node3")


def test_a_test_sequence_overrides_the_default():
    text = "platforms: [{name: node}]\nscenario:\n  name: default\n  test_sequence: [create, converge, destroy]\n"
    assert parse(text).test_sequence == ("create", "converge", "destroy")


def test_every_problem_is_reported_at_once_in_file_order_with_line_column_and_hint():
    text = """\
driver: {name: docker}
platforms:
  - {name: node, count: 3, groups: [nodes, web]}
  - {name: lb1, groups: [lb], image: debian}
provisioner:
  playbooks: {converge: converge.yml, verfy: v.yml}
  env: {ORCHESTR_STORE: /tmp/x, LIST: [1]}
scenario:
  test_sequence: [create, converge, verfy]
dependency: {name: galaxy}
"""
    lines = problems(text)
    assert lines == [
        f"{PATH}:1:16: driver 'docker' is not supported (hint: use `driver: {{name: "
        "orchestr-lab}`: the hosts are an orchestr lab)",
        f"{PATH}:3:44: platform node: the lab has no group 'web' (hint: a lab's groups are lab, "
        "nodes and lb (put other groups in the playbook's hosts patterns))",
        f"{PATH}:4:31: platform: 'image' is not supported by orchestr (hint: every lab host runs "
        "the lab host image (sshd and dockerd); remove it)",
        f"{PATH}:6:39: provisioner.playbooks: unknown key 'verfy' (hint: did you mean 'verify'? "
        "(known: prepare, converge, side_effect, verify, cleanup))",
        f"{PATH}:7:9: provisioner.env: ORCHESTR_STORE is set by the scenario run (hint: each run "
        "has its own store, zone file, inventory and lab: remove it)",
        f"{PATH}:7:39: provisioner.env.LIST must be a string or a number (hint: got a list; "
        "quote it)",
        f"{PATH}:9:37: unknown action 'verfy' (hint: did you mean 'verify'? (known: destroy, "
        "syntax, create, prepare, converge, idempotence, side_effect, verify, cleanup))",
        f"{PATH}:10:1: molecule.yml: 'dependency' is not supported by orchestr (hint: orchestr "
        "installs no roles or collections: remove it)",
    ]


def test_several_problems_raise_parse_errors_one_alone_a_parse_error():
    with pytest.raises(ParseErrors):
        parse("platforms: []\nfoo: 1\n")
    with pytest.raises(ParseError) as caught:
        parse("platforms: []\n")
    assert not isinstance(caught.value, ParseErrors)
    assert caught.value.one_line() == (
        f"{PATH}:1:12: platforms must be a non-empty list "
        "(hint: e.g. `- {name: node, count: 3, groups: [nodes]}`)"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", f"{PATH}: molecule.yml is empty"),
        ("platforms: [\n", f"{PATH}:2:1: invalid YAML"),
        ("- 1\n", f"{PATH}:1:1: molecule.yml must be a mapping, not a list"),
        ("driver: {name: orchestr-lab}\n", f"{PATH}:1:1: molecule.yml has no `platforms:`"),
        ("platforms: [node1]\n", f"{PATH}:1:13: a platform must be a mapping, not str 'node1'"),
        ("platforms: [{count: 2}]\n", f"{PATH}:1:13: a platform needs a name"),
        ("platforms: [{name: node, count: 0}]\n", f"{PATH}:1:33: platform node: count must be"),
        ("platforms: [{name: node, count: two}]\n", f"{PATH}:1:33: platform node: count must be"),
        ("platforms: [{name: web}]\n", f"{PATH}:1:20: platform web: cannot tell whether"),
        ("platforms: [{name: web, groups: [nodes]}]\n",
         f"{PATH}:1:20: platform 'web': the lab names its hosts node1..nodeN"),
        ("platforms: [{name: node2, count: 2}]\n",
         f"{PATH}:1:34: platform node2 is one host: count must be 1"),
        ("platforms: [{name: node}, {name: node}, {name: node5}]\n",
         f"{PATH}:1:41: platform node5 is beyond the 3 nodes declared"),
        ("platforms: [{name: node1}, {name: node1}]\n",
         f"{PATH}:1:28: platform node1 is declared twice"),
        ("platforms: [{name: lb1}]\n", f"{PATH}:1:13: the platforms declare no node"),
        ("platforms: [{name: node}, {name: haproxy, groups: [lb]}]\n",
         f"{PATH}:1:34: the load-balancer platform must be named 'lb1'"),
        ("platforms: [{name: node}, {name: lb1, count: 2}]\n",
         f"{PATH}:1:46: a lab has one load balancer: count must be 1"),
        ("platforms: [{name: node}, {name: lb1}, {name: lb1}]\n",
         f"{PATH}:1:40: a lab has one load balancer: a second lb platform"),
        ("platforms: [{name: node1, groups: [nodes, lb]}]\n",
         f"{PATH}:1:35: platform node1 cannot be in both nodes and lb"),
        ("platforms: [{name: node}]\nplatforms: [{name: node}]\n",
         f"{PATH}:2:1: molecule.yml: duplicate key 'platforms'"),
        ("platforms: [{name: node}]\nprovisioner: {name: ansible}\n",
         f"{PATH}:2:21: provisioner 'ansible' is not supported"),
        ("platforms: [{name: node}]\nprovisioner: {inventory: {}}\n",
         f"{PATH}:2:15: provisioner: 'inventory' is not supported by orchestr"),
        ("platforms: [{name: node}]\nprovisioner: {playbooks: {create: create.yml}}\n",
         f"{PATH}:2:27: provisioner.playbooks: 'create' is not supported by orchestr"),
        ("platforms: [{name: node}]\nprovisioner: {env: {1A: x}}\n",
         f"{PATH}:2:21: provisioner.env: '1A' is not a variable name"),
        ("platforms: [{name: node}]\nverifier: {name: testinfra}\n",
         f"{PATH}:2:18: verifier 'testinfra' is not supported"),
        ("platforms: [{name: node}]\nscenario: {name: other}\n",
         f"{PATH}:2:18: scenario.name 'other' differs from its folder's name 'default'"),
        ("platforms: [{name: node}]\nscenario: {test_sequence: []}\n",
         f"{PATH}:2:27: scenario.test_sequence is empty"),
        ("platforms: [{name: node}]\nscenario: {test_sequence: [lint]}\n",
         f"{PATH}:2:28: unknown action 'lint' (hint: orchestr has no lint action"),
        ("platforms: [{name: node}]\nscenario: {converge_sequence: [converge]}\n",
         f"{PATH}:2:12: scenario: 'converge_sequence' is not supported by orchestr"),
    ],
)  # fmt: skip
def test_problems_name_the_place_and_say_what_to_do(text: str, expected: str):
    lines = problems(text)
    assert len(lines) == 1, lines
    assert lines[0].startswith(expected), lines[0]
    assert "(hint: " in lines[0]


def test_missing_playbooks_are_errors_only_when_the_sequence_runs_them():
    lines = problems("platforms: [{name: node}]\n", files=set())
    assert lines == [
        f"{PATH}: the scenario has no converge playbook: molecule/default/converge.yml not "
        "found (hint: write converge.yml next to molecule.yml, or name another with "
        "provisioner.playbooks.converge)",
        f"{PATH}: the scenario has no verify playbook: molecule/default/verify.yml not found "
        "(hint: write verify.yml next to molecule.yml, or name another with "
        "provisioner.playbooks.verify)",
    ]
    text = "platforms: [{name: node}]\nscenario: {test_sequence: [create, destroy]}\n"
    assert parse(text, files=set()).playbooks == {}


def test_a_named_playbook_that_is_not_there_is_an_error_at_its_line():
    text = "platforms: [{name: node}]\nprovisioner:\n  playbooks:\n    prepare: prep.yml\n"
    assert problems(text) == [
        f"{PATH}:4:14: provisioner.playbooks.prepare: molecule/default/prep.yml not found "
        "(hint: paths are relative to molecule/default)"
    ]


def test_a_folder_name_that_cannot_name_a_lab_is_refused():
    with pytest.raises(ParseError) as caught:
        parse_scenario("platforms: [{name: node}]\n", "molecule/My_Test/molecule.yml",
                       lambda _: True)  # fmt: skip
    assert "scenario folder name 'My_Test' is not usable as a lab name" in caught.value.one_line()


def test_lab_names_derive_from_the_scenario_with_a_prefix_or_an_override():
    assert lab_name("default") == "molecule-default"
    assert lab_name("failover", "itest") == "itest-failover"
    assert lab_name("failover", "itest", "demo") == "demo"
    with pytest.raises(OptionsError) as caught:
        lab_name("failover", "a-very-long-ci-prefix")
    assert "bad lab name 'a-very-long-ci-prefix-failover'" in caught.value.message
    assert "--lab NAME" in caught.value.hint
