"""Service specs: every argument of the `service` task validated into a ServiceSpec (each problem
named by its field, with a hint), hashed, stored and read back unchanged, and shown with secrets
masked."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orchestr.cluster.model import Resources
from orchestr.cluster.spec import (
    ARGUMENTS,
    SpecError,
    masked_env,
    parse_service,
    spec_from_dict,
    spec_hash,
    spec_to_dict,
)
from orchestr.cluster.spec_types import (
    Affinity,
    Constraint,
    HealthSpec,
    PortSpec,
    ServiceSpec,
    UpdatePolicy,
)

BASE = {"name": "web", "image": "app:1"}


def parse(**args: Any) -> ServiceSpec:
    return parse_service({**BASE, **args})


def refused(**args: Any) -> SpecError:
    with pytest.raises(SpecError) as caught:
        parse_service({**BASE, **args})
    return caught.value


# -- the minimal spec and its defaults --------------------------------------------------------


def test_minimal_spec_takes_the_defaults():
    spec = parse_service(BASE, location="site.yml:12")
    assert spec == ServiceSpec(name="web", image="app:1", location="site.yml:12")
    assert spec.command is None
    assert spec.env == () and spec.secret_env == frozenset()
    assert spec.ports == () and spec.volumes == ()
    assert spec.restart == "unless-stopped"
    assert spec.mode == "replicated" and spec.replicas == 1
    assert spec.resources == Resources(0.0, 0)
    assert spec.strategy == "spread" and spec.max_per_host is None
    assert spec.health is None
    assert spec.update == UpdatePolicy(1, 0.0, "stop-first", 5.0, "rollback", 0.0)
    assert spec.stop_timeout is None
    assert spec.state == "present"


def test_every_argument_is_declared_for_the_loader():
    assert set(ARGUMENTS) == {
        "name", "image", "command", "env", "secret_env", "labels", "ports", "volumes", "restart",
        "mode", "replicas", "resources", "constraints", "preferences", "affinity",
        "anti_affinity", "max_per_host", "strategy", "health", "update", "stop_timeout", "state", "lb_port",
    }  # fmt: skip


# -- name, image, state ----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["web", "a", "api-2", "123", "a" * 63, "  web  "])
def test_valid_names(name):
    assert parse(name=name).name == name.strip()


@pytest.mark.parametrize("name", ["Web", "web_1", "-web", "web-", "we.b", "a" * 64, "web app"])
def test_bad_names_are_refused_with_a_hint(name):
    error = refused(name=name)
    assert error.field == "name"
    assert error.message == f"{name!r} is not a valid service name"
    assert "DNS label" in error.hint


@pytest.mark.parametrize("name", [None, "", "   "])
def test_name_is_required(name):
    error = refused(name=name)
    assert (error.field, error.message) == ("name", "required")
    assert str(error) == "name: required"


def test_image_is_required_while_present_but_not_to_remove():
    with pytest.raises(SpecError) as caught:
        parse_service({"name": "web"})
    assert (caught.value.field, caught.value.message) == ("image", "required")
    assert "image:" in caught.value.hint
    gone = parse_service({"name": "web", "state": "absent"})
    assert gone.state == "absent" and gone.image == ""


@pytest.mark.parametrize("state", ["present", "absent", "ABSENT", " present "])
def test_state(state):
    assert parse(state=state).state == state.strip().lower()


def test_bad_state():
    error = refused(state="gone")
    assert error.field == "state"
    assert error.message == "'gone' is not one of present, absent"


# -- unknown arguments --------------------------------------------------------------------------


def test_unknown_argument_is_named_with_the_list_of_arguments_as_hint():
    error = refused(zzz=1, replica=3)
    assert error.field == "replica"  # the first in name order
    assert error.message == "not a service argument"
    assert error.hint.startswith("arguments: name, image, command, env,")
    assert "replicas" in error.hint and "anti_affinity" in error.hint


# -- command, env, labels, volumes, restart, stop_timeout ----------------------------------------


def test_command_as_a_line_is_split_like_a_shell():
    assert parse(command="serve --port 80 'a b'").command == ("serve", "--port", "80", "a b")


def test_command_as_a_list_keeps_its_words():
    assert parse(command=["serve", 8080, "a b"]).command == ("serve", "8080", "a b")


def test_command_of_another_shape_is_refused():
    error = refused(command={"serve": 1})
    assert (error.field, error.message) == ("command", "a string or a list of words is expected")


def test_env_values_are_text_as_docker_sees_them_and_sorted_by_name():
    spec = parse(env={"ZED": "z", "DEBUG": True, "QUIET": False, "N": 3, "EMPTY": None})
    assert spec.env == (
        ("DEBUG", "true"), ("EMPTY", ""), ("N", "3"), ("QUIET", "false"), ("ZED", "z"),
    )  # fmt: skip


def test_env_must_be_a_mapping():
    error = refused(env=["A=1"])
    assert (error.field, error.message) == ("env", "a mapping is expected")
    assert error.hint == "e.g. env: {NAME: value}"


@pytest.mark.parametrize("value", [{"a": 1}, [1, 2], ("x",)])
def test_an_env_or_label_value_that_is_not_a_scalar_is_refused(value):
    """Its repr would have reached the container (issue 14)."""
    error = refused(env={"CONFIG": value})
    assert error.field == "env.CONFIG" and "is not a value" in error.message
    assert "to_json" in error.hint
    assert refused(labels={"team": value}).field == "labels.team"


def test_replicas_are_bounded():
    assert parse(replicas=10_000).replicas == 10_000
    error = refused(replicas=1_000_000)
    assert error.field == "replicas" and "more than orchestr places (10000)" in error.message


def test_labels_sorted_and_must_be_a_mapping():
    assert parse(labels={"team": "core", "app": 1}).labels == (("app", "1"), ("team", "core"))
    assert refused(labels="team=core").field == "labels"


def test_secret_env_and_volumes_take_one_item_or_a_list():
    assert parse(secret_env="API").secret_env == frozenset({"API"})
    assert parse(secret_env=["A", "B"]).secret_env == frozenset({"A", "B"})
    assert parse(volumes="/srv:/srv:ro").volumes == ("/srv:/srv:ro",)
    assert parse(volumes=["/a:/a", "cache:/cache"]).volumes == ("/a:/a", "cache:/cache")
    error = refused(volumes={"/a": "/a"})
    assert (error.field, error.message) == ("volumes", "a list is expected")


@pytest.mark.parametrize("policy", ["no", "always", "unless-stopped", "on-failure"])
def test_restart_policies(policy):
    assert parse(restart=policy).restart == policy


def test_bad_restart_policy():
    error = refused(restart="sometimes")
    assert error.field == "restart"
    assert error.message == "'sometimes' is not one of no, always, unless-stopped, on-failure"


def test_stop_timeout():
    assert parse(stop_timeout=7).stop_timeout == 7
    assert parse(stop_timeout="0").stop_timeout == 0
    assert parse(stop_timeout=None).stop_timeout is None
    assert refused(stop_timeout=-1).message == "-1 is below 0"
    assert refused(stop_timeout="soon").message == "'soon' is not a whole number"


# -- ports ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("8080:80", PortSpec(80, published=8080)),
        ("8080:80/tcp", PortSpec(80, published=8080)),
        (" 8080:80 ", PortSpec(80, published=8080)),
        ("30000-30010:80", PortSpec(80, published_range=(30000, 30010))),
        ("30000-30000:80", PortSpec(80, published_range=(30000, 30000))),
        (80, PortSpec(80)),
        ("80", PortSpec(80)),
        ("65535:1", PortSpec(1, published=65535)),
        ({"target": 80, "published": 8080}, PortSpec(80, published=8080)),
        ({"target": "80", "published": "8080"}, PortSpec(80, published=8080)),
        ({"target": 80, "published": "30000-30010"}, PortSpec(80, published_range=(30000, 30010))),
        ({"target": 80}, PortSpec(80)),
        ({"target": 80, "published": None}, PortSpec(80)),
    ],
)
def test_port_forms(value, expected):
    assert parse(ports=[value]).ports == (expected,)


def test_ports_keep_their_order_and_one_port_needs_no_list():
    spec = parse(ports=["8443:443", 9000, "30000-30010:80"])
    assert spec.ports == (
        PortSpec(443, published=8443),
        PortSpec(9000),
        PortSpec(80, published_range=(30000, 30010)),
    )
    assert parse(ports="8080:80").ports == (PortSpec(80, published=8080),)
    assert parse(ports=80).ports == (PortSpec(80),)


def test_port_spec_fixed():
    assert PortSpec(80, published=8080).fixed
    assert not PortSpec(80, published_range=(1, 2)).fixed
    assert not PortSpec(80).fixed


PORT_HINT = "e.g. '8080:80', '30000-30099:80', or {target: 80, published: 8080}"


@pytest.mark.parametrize(
    ("value", "field", "message", "hint"),
    [
        ("abc", "ports[1]", "'abc' is not a port number", ""),
        ("0", "ports[1]", "0 is not within 1-65535", ""),
        ("70000:80", "ports[1]", "70000 is not within 1-65535", ""),
        ("8080:0", "ports[1]", "0 is not within 1-65535", ""),
        ("8080:", "ports[1]", "'' is not a port number", ""),
        ("80/udp", "ports[1]", "'80/udp': only tcp ports are published", PORT_HINT),
        ("8080:80/udp", "ports[1]", "'8080:80/udp': only tcp ports are published", PORT_HINT),
        ("30010-30000:80", "ports[1]", "the range 30010-30000 is empty", PORT_HINT),
        ("x-30000:80", "ports[1]", "'x' is not a port number", ""),
        ("30000-70000:80", "ports[1]", "70000 is not within 1-65535", ""),
        ("127.0.0.1:8080:80", "ports[1]", "'127.0.0.1:8080' is not a port number", ""),
        ({"published": 8080}, "ports[1]", "target (the container port) is required", PORT_HINT),
        ({"target": "http"}, "ports[1].target", "'http' is not a port number", ""),
        ({"target": 80, "published": 0}, "ports[1]", "0 is not within 1-65535", ""),
        ([8080, 80], "ports[1]", "[8080, 80] is not a port", PORT_HINT),
        (None, "ports[1]", "None is not a port", PORT_HINT),
        (True, "ports[1]", "'True' is not a port number", ""),
    ],
)
def test_bad_ports_name_the_item(value, field, message, hint):
    error = refused(ports=["8080:80", value])
    assert (error.field, error.message, error.hint) == (field, message, hint)


def test_ports_of_another_shape():
    error = refused(ports={"8080": 80})
    assert (error.field, error.message) == ("ports", "a list is expected")


# -- mode and replicas ---------------------------------------------------------------------------


def test_replicas():
    assert parse(replicas=3).replicas == 3
    assert parse(replicas="5").replicas == 5
    assert parse(replicas=0).replicas == 0
    assert refused(replicas=-1).message == "-1 is below 0"
    assert refused(replicas="many").message == "'many' is not a whole number"
    assert refused(replicas=1.5).message == "1.5 is not a whole number"
    assert refused(replicas=None).field == "replicas"


def test_global_mode_runs_one_per_host_and_refuses_replicas():
    spec = parse(mode="Global")
    assert spec.mode == "global" and spec.replicas == 1
    error = refused(mode="global", replicas=2)
    assert error.field == "replicas"
    assert error.message == "a global service runs one replica per eligible host"
    assert error.hint == "drop replicas, or use mode: replicated"


def test_bad_mode():
    error = refused(mode="everywhere")
    assert (error.field, error.message) == ("mode", "'everywhere' is not one of replicated, global")


# -- resources ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("resources", "expected"),
    [
        ({"cpus": 0.5, "memory": "256M"}, Resources(0.5, 256)),
        ({"memory": "1G"}, Resources(0.0, 1024)),
        ({"memory": 512}, Resources(0.0, 512)),
        ({"memory": "512"}, Resources(0.0, 512)),
        ({"memory": "512MB"}, Resources(0.0, 512)),
        ({"memory": "256m"}, Resources(0.0, 256)),
        ({"memory": "1.5GiB"}, Resources(0.0, 1536)),
        ({"memory": "2048K"}, Resources(0.0, 2)),
        ({"memory": "1T"}, Resources(0.0, 1024 * 1024)),
        ({"cpus": "2"}, Resources(2.0, 0)),
        ({"cpus": None, "memory": None}, Resources(0.0, 0)),
        ({}, Resources(0.0, 0)),
    ],
)
def test_resources(resources, expected):
    assert parse(resources=resources).resources == expected


@pytest.mark.parametrize(
    ("resources", "field", "message", "hint"),
    [
        ({"memory": "lots"}, "resources.memory", "'lots' is not a size", "e.g. 256M or 1G"),
        ({"memory": "1X"}, "resources.memory", "'1X' is not a size", "e.g. 256M or 1G"),
        ({"memory": -1}, "resources.memory", "cannot be negative", ""),
        ({"cpus": -0.5}, "resources.cpus", "cannot be negative", ""),
        ({"cpus": "half"}, "resources.cpus", "'half' is not a number", ""),
        ({"gpus": 1}, "resources.gpus", "not a resource", "cpus, memory"),
        ("1 cpu", "resources", "a mapping is expected", "e.g. {cpus: 0.5, memory: 256M}"),
    ],
)
def test_bad_resources(resources, field, message, hint):
    error = refused(resources=resources)
    assert (error.field, error.message, error.hint) == (field, message, hint)


# -- constraints, preferences, strategy, max_per_host ---------------------------------------------


def test_constraints_are_parsed_in_order():
    spec = parse(constraints=["zone == a", "facts.docker_version >= 20.10", "gpu exists"])
    assert spec.constraints == (
        Constraint("zone", "==", "a", "zone == a"),
        Constraint("facts.docker_version", ">=", "20.10", "facts.docker_version >= 20.10"),
        Constraint("gpu", "exists", None, "gpu exists"),
    )
    assert parse(constraints="zone in [a, b]").constraints == (
        Constraint("zone", "in", ("a", "b"), "zone in [a, b]"),
    )


def test_a_bad_constraint_names_its_index():
    error = refused(constraints=["zone = a"])
    assert error.field == "constraints[0]"
    assert "unknown operator '='" in error.message
    assert str(error).startswith("constraints[0]: ")
    assert error.hint == "e.g. 'zone == a', 'facts.os_id in [debian, ubuntu]'"
    later = refused(constraints=["zone == a", "gpu"])
    assert later.field == "constraints[1]"
    assert "no operator" in later.message


def test_preferences_by_name_or_as_swarm_spread():
    assert parse(preferences=["zone", {"spread": "rack"}]).preferences == ("zone", "rack")
    assert parse(preferences="zone").preferences == ("zone",)
    error = refused(preferences=["zone", {"pack": "rack"}])
    assert (error.field, error.message) == ("preferences[1]", "only spread preferences exist")
    error = refused(preferences=[" "])
    assert (error.field, error.message) == (
        "preferences[0]",
        "names a host attribute to spread over",
    )


@pytest.mark.parametrize("strategy", ["spread", "binpack", "random", "BinPack"])
def test_strategies(strategy):
    assert parse(strategy=strategy).strategy == strategy.lower()


def test_bad_strategy_and_max_per_host():
    error = refused(strategy="fill")
    assert (error.field, error.message) == (
        "strategy",
        "'fill' is not one of spread, binpack, random",
    )
    assert parse(max_per_host=2).max_per_host == 2
    assert parse(max_per_host=None).max_per_host is None
    error = refused(max_per_host=0)
    assert (error.field, error.message) == ("max_per_host", "0 is below 1")


# -- affinity -----------------------------------------------------------------------------------


def test_affinity_by_name_is_hard_and_by_mapping_may_be_soft():
    spec = parse(
        affinity=["db", {"service": "cache", "hard": False}, {"service": "queue", "hard": "yes"}],
        anti_affinity="batch",
    )
    assert spec.affinity == (
        Affinity("db", anti=False, hard=True),
        Affinity("cache", anti=False, hard=False),
        Affinity("queue", anti=False, hard=True),
        Affinity("batch", anti=True, hard=True),
    )
    soft_anti = parse(anti_affinity=[{"service": "db", "hard": "no"}])
    assert soft_anti.affinity == (Affinity("db", anti=True, hard=False),)


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ({"affinity": ["web"]}, "affinity[0]"),
        ({"affinity": ["db", {"service": "web", "hard": False}]}, "affinity[1]"),
        ({"anti_affinity": ["web"]}, "anti_affinity[0]"),
        ({"anti_affinity": [{"service": " web "}]}, "anti_affinity[0]"),
    ],
)
def test_a_service_naming_itself_is_refused(args, field):
    error = refused(**args)
    assert (error.field, error.message) == (field, "a service cannot name itself")
    assert error.hint == "use max_per_host to keep its replicas apart"


def test_bad_affinity_mappings():
    error = refused(affinity=[{"hard": False}])
    assert (error.field, error.message) == ("affinity[0]", "service is required")
    assert error.hint == "e.g. {service: db, hard: false}"
    error = refused(anti_affinity=[{"service": "db", "hard": "maybe"}])
    assert (error.field, error.message) == ("anti_affinity[0].hard", "'maybe' is not a boolean")


# -- health -------------------------------------------------------------------------------------


def test_http_health_with_every_setting():
    spec = parse(
        health={"http": "/healthz", "port": 8080, "interval": "1m30s", "timeout": "500ms",
                "fall": "5", "rise": 1, "start_period": "2s"},
    )  # fmt: skip
    assert spec.health == HealthSpec(
        kind="http", port=8080, path="/healthz", interval=90.0, timeout=0.5, fall=5, rise=1,
        start_period=2.0,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("health", "expected"),
    [
        ({"http": "/"}, HealthSpec("http", path="/")),
        ({"http": None}, HealthSpec("http", path="/")),
        ({"tcp": 5432}, HealthSpec("tcp", port=5432)),
        ({"tcp": True}, HealthSpec("tcp")),  # the service's first port
        ({"tcp": True, "port": 6379}, HealthSpec("tcp", port=6379)),
        ({"exec": "pg_isready -U app"}, HealthSpec("exec", command=("pg_isready", "-U", "app"))),
        ({"exec": ["redis-cli", "ping"]}, HealthSpec("exec", command=("redis-cli", "ping"))),
        ({"docker": True}, HealthSpec("docker")),
        ({"docker": "yes"}, HealthSpec("docker")),
    ],
)
def test_health_kinds(health, expected):
    assert parse(health=health).health == expected


@pytest.mark.parametrize(
    ("health", "field", "message"),
    [
        ({}, "health", "name exactly one kind: http, tcp, exec or docker"),
        ({"port": 80}, "health", "name exactly one kind: http, tcp, exec or docker"),
        ({"http": "/", "tcp": 80}, "health", "name exactly one kind: http, tcp, exec or docker"),
        (
            {"exec": "true", "docker": True},
            "health",
            "name exactly one kind: http, tcp, exec or docker",
        ),
        ({"http": "healthz"}, "health.http", "'healthz' is not a path"),
        ({"exec": ""}, "health.exec", "a command is required"),
        ({"exec": []}, "health.exec", "a command is required"),
        ({"docker": False}, "health.docker", "docker: true uses the image's own HEALTHCHECK"),
        ({"docker": "perhaps"}, "health.docker", "'perhaps' is not a boolean"),
        ({"http": "/", "retries": 3}, "health.retries", "not a health check setting"),
        ({"tcp": 70000}, "health.port", "70000 is not within 1-65535"),
        ({"http": "/", "port": "web"}, "health.port", "'web' is not a port number"),
        ({"http": "/", "fall": 0}, "health.fall", "0 is below 1"),
        ({"http": "/", "rise": "x"}, "health.rise", "'x' is not a whole number"),
        ({"http": "/", "interval": "soon"}, "health.interval", "'soon' is not a duration"),
        ({"http": "/", "timeout": -1}, "health.timeout", "cannot be negative"),
        ({"http": "/", "start_period": "-5s"}, "health.start_period", "'-5s' is not a duration"),
    ],
)
def test_bad_health(health, field, message):
    error = refused(health=health)
    assert (error.field, error.message) == (field, message)


def test_health_of_another_shape():
    error = refused(health="http://localhost/")
    assert (error.field, error.message) == ("health", "a mapping is expected")
    assert error.hint.startswith("e.g. {http: /healthz")


@pytest.mark.parametrize("health", [{"tcp": 1}, {"http": "/", "port": 1}])
def test_health_on_port_1_keeps_its_port(health):
    assert parse(health=health).health.port == 1


# -- durations ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("2s", 2.0), ("500ms", 0.5), ("1m30s", 90.0), ("1m 30s", 90.0), ("1m", 60.0),
        ("1h", 3600.0), ("1.5s", 1.5), ("2", 2.0), ("2.5", 2.5), (2, 2.0), (2.5, 2.5), (0, 0.0),
    ],
)  # fmt: skip
def test_durations(value, seconds):
    assert parse(health={"http": "/", "interval": value}).health.interval == seconds
    assert parse(update={"delay": value}).update.delay == seconds


@pytest.mark.parametrize("value", ["soon", "1m30", "2 s", "s", "1d", True, "-1s"])
def test_bad_durations(value):
    error = refused(update={"monitor": value})
    assert (error.field, error.message) == ("update.monitor", f"{value!r} is not a duration")
    assert error.hint == "e.g. 2s, 500ms, 1m30s"


def test_negative_duration_as_a_number():
    error = refused(update={"delay": -2})
    assert (error.field, error.message) == ("update.delay", "cannot be negative")


# -- update policy ------------------------------------------------------------------------------


def test_update_policy_with_every_setting():
    spec = parse(
        update={"parallelism": 2, "delay": "1s", "order": "start-first", "monitor": "10s",
                "failure_action": "pause", "max_failure_ratio": 0.25},
    )  # fmt: skip
    assert spec.update == UpdatePolicy(2, 1.0, "start-first", 10.0, "pause", 0.25)
    assert parse(update={"failure_action": "continue"}).update.failure_action == "continue"
    assert parse(update=None).update == UpdatePolicy()


@pytest.mark.parametrize(
    ("update", "field", "message"),
    [
        ({"order": "sideways"}, "update.order", "'sideways' is not one of stop-first, start-first"),
        ({"failure_action": "panic"}, "update.failure_action",
         "'panic' is not one of rollback, pause, continue"),
        ({"parallelism": 0}, "update.parallelism", "0 is below 1"),
        ({"max_failure_ratio": 1.5}, "update.max_failure_ratio", "a number from 0 to 1 is expected"),
        ({"max_failure_ratio": -0.1}, "update.max_failure_ratio", "a number from 0 to 1 is expected"),
        ({"max_failure_ratio": "most"}, "update.max_failure_ratio", "a number from 0 to 1 is expected"),
        ({"rollback": True}, "update.rollback", "not an update setting"),
        ("start-first", "update", "a mapping is expected"),
    ],
)  # fmt: skip
def test_bad_update_policy(update, field, message):
    error = refused(update=update)
    assert (error.field, error.message) == (field, message)


def test_null_max_failure_ratio_is_a_spec_error():
    error = refused(update={"max_failure_ratio": None})
    assert error.field == "update.max_failure_ratio"


def test_cpus_of_a_wrong_type_is_a_spec_error():
    error = refused(resources={"cpus": [1]})
    assert error.field == "resources.cpus"


# -- spec_hash ----------------------------------------------------------------------------------

RICH = {
    "name": "web", "image": "app:1", "command": "serve --port 80", "env": {"MODE": "prod"},
    "labels": {"team": "core"}, "ports": ["8080:80"], "volumes": ["/srv:/srv"],
    "resources": {"cpus": 0.5, "memory": "256M"}, "health": {"http": "/healthz"},
    "stop_timeout": 5, "replicas": 2,
}  # fmt: skip


def rich_hash(**changes: Any) -> str:
    return spec_hash(parse_service({**RICH, **changes}))


def test_spec_hash_is_short_hex_and_pinned():
    # Pinned: a change in how specs are hashed would replace every running replica on upgrade.
    assert spec_hash(parse_service(BASE)) == "a97bc4ba48ad"
    value = rich_hash()
    assert len(value) == 12 and all(c in "0123456789abcdef" for c in value)
    assert value == rich_hash()


def test_spec_hash_ignores_the_order_arguments_were_written_in():
    reordered = dict(reversed(list(RICH.items())))
    reordered["env"] = {"B": "2", "A": "1"}
    same = {**RICH, "env": {"A": "1", "B": "2"}}
    assert spec_hash(parse_service(reordered)) == spec_hash(parse_service(same))


@pytest.mark.parametrize(
    "changes",
    [
        {"replicas": 7},
        {"constraints": ["zone == a"]},
        {"preferences": ["zone"]},
        {"affinity": ["db"]},
        {"anti_affinity": [{"service": "db", "hard": False}]},
        {"max_per_host": 1},
        {"strategy": "binpack"},
        {"update": {"order": "start-first", "parallelism": 3, "delay": "5s"}},
        {"secret_env": ["MODE"]},
        {"name": "api"},
    ],
)
def test_spec_hash_ignores_scale_placement_and_update_policy(changes):
    assert rich_hash(**changes) == rich_hash()


@pytest.mark.parametrize(
    "changes",
    [
        {"image": "app:2"},
        {"env": {"MODE": "dev"}},
        {"env": {"MODE": "prod", "EXTRA": "1"}},
        {"ports": ["8081:80"]},
        {"ports": ["8080:80", 9000]},
        {"ports": ["30000-30010:80"]},
        {"health": {"http": "/ready"}},
        {"health": {"http": "/healthz", "interval": "5s"}},
        {"health": None},
        {"command": "serve --port 81"},
        {"labels": {"team": "edge"}},
        {"volumes": []},
        {"resources": {"cpus": 1, "memory": "256M"}},
        {"restart": "always"},
        {"stop_timeout": 6},
    ],
)
def test_spec_hash_changes_with_what_a_replica_is_made_of(changes):
    assert rich_hash(**changes) != rich_hash()


# -- stored and read back --------------------------------------------------------------------------


def test_round_trip_of_a_full_spec_through_json():
    args = {
        **RICH,
        "secret_env": ["MODE", "API_KEY"],
        "ports": ["8080:80", "30000-30010:443", 9000],
        "constraints": ["zone in [a, b]", "gpu exists", "facts.docker_version >= 20.10"],
        "preferences": ["zone"],
        "affinity": ["db"],
        "anti_affinity": [{"service": "batch", "hard": False}],
        "max_per_host": 2,
        "strategy": "binpack",
        "health": {"exec": "pg_isready -U app", "interval": "1s", "fall": 4},
        "update": {"order": "start-first", "parallelism": 2, "max_failure_ratio": 0.5},
        "restart": "on-failure",
    }
    spec = parse_service(args, location="site.yml:3")
    data = spec_to_dict(spec)
    assert "extra" not in data
    assert data["secret_env"] == ["API_KEY", "MODE"]
    stored = json.loads(json.dumps(data))
    assert spec_from_dict(stored) == spec
    assert spec_from_dict(data) == spec
    assert spec_hash(spec_from_dict(stored)) == spec_hash(spec)


def test_round_trip_of_the_minimal_and_the_absent_spec():
    for spec in (parse_service(BASE), parse_service({"name": "old", "state": "absent"})):
        assert spec_from_dict(json.loads(json.dumps(spec_to_dict(spec)))) == spec


_SAFE_TEXT = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_./:", min_size=1, max_size=12)
_NAMES = st.from_regex(r"\A[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?\Z")
_ENV_NAMES = st.from_regex(r"\A[A-Z][A-Z0-9_]{0,8}\Z")
_PORT = st.integers(1, 65535)
_PORTS = st.one_of(
    _PORT,
    st.builds(lambda h, t: f"{h}:{t}", _PORT, _PORT),
    st.builds(lambda lo, n, t: f"{lo}-{min(65535, lo + n)}:{t}", _PORT, st.integers(0, 50), _PORT),
    st.builds(lambda t, h: {"target": t, "published": h}, _PORT, st.one_of(st.none(), _PORT)),
)
_CONSTRAINTS = st.sampled_from(
    ["zone == a", "zone != b", "zone in [a, b]", "rack not in [r1]", "gpu exists", "gpu missing",
     "inventory_hostname =~ ^web", "facts.docker_version >= 20.10", "group_names contains web"]
)  # fmt: skip
_DURATIONS = st.one_of(st.integers(0, 100), st.sampled_from(["2s", "500ms", "1m30s", "1h", "0.5"]))
_HEALTH_PORT = _PORT.filter(lambda p: p != 1)  # port 1: see test_health_on_port_1_keeps_its_port
_HEALTH = st.one_of(
    st.none(),
    st.fixed_dictionaries(
        {"http": st.sampled_from(["/", "/healthz", "/a/b"])},
        optional={
            "port": _HEALTH_PORT,
            "interval": _DURATIONS,
            "fall": st.integers(1, 9),
            "rise": st.integers(1, 9),
        },
    ),
    st.builds(lambda p: {"tcp": p}, _HEALTH_PORT),
    st.builds(lambda c: {"exec": c}, st.lists(_SAFE_TEXT, min_size=1, max_size=3)),
    st.just({"docker": True, "start_period": "10s"}),
)
_UPDATE = st.fixed_dictionaries(
    {},
    optional={
        "parallelism": st.integers(1, 5),
        "delay": _DURATIONS,
        "order": st.sampled_from(["stop-first", "start-first"]),
        "monitor": _DURATIONS,
        "failure_action": st.sampled_from(["rollback", "pause", "continue"]),
        "max_failure_ratio": st.floats(0, 1),
    },
)


@st.composite
def service_args(draw: st.DrawFn) -> dict[str, Any]:
    name = draw(_NAMES)
    others = _NAMES.filter(lambda n: n != name)
    args: dict[str, Any] = {"name": name, "image": draw(_SAFE_TEXT)}
    optional = {
        "command": st.one_of(st.lists(_SAFE_TEXT, max_size=3), st.just("serve --port 80")),
        "env": st.dictionaries(_ENV_NAMES, st.one_of(_SAFE_TEXT, st.booleans(), st.integers())),
        "secret_env": st.lists(_ENV_NAMES, max_size=3),
        "labels": st.dictionaries(_SAFE_TEXT, _SAFE_TEXT, max_size=3),
        "ports": st.lists(_PORTS, max_size=3),
        "volumes": st.lists(_SAFE_TEXT, max_size=2),
        "restart": st.sampled_from(["no", "always", "unless-stopped", "on-failure"]),
        "resources": st.fixed_dictionaries(
            {}, optional={"cpus": st.floats(0, 64), "memory": st.sampled_from([0, 512, "1G"])}
        ),
        "constraints": st.lists(_CONSTRAINTS, max_size=3),
        "preferences": st.lists(st.sampled_from(["zone", "rack", {"spread": "dc"}]), max_size=2),
        "affinity": st.lists(
            st.one_of(
                others, st.builds(lambda s, h: {"service": s, "hard": h}, others, st.booleans())
            ),
            max_size=2,
        ),
        "anti_affinity": st.lists(others, max_size=2),
        "max_per_host": st.one_of(st.none(), st.integers(1, 4)),
        "strategy": st.sampled_from(["spread", "binpack", "random"]),
        "health": _HEALTH,
        "update": _UPDATE,
        "stop_timeout": st.one_of(st.none(), st.integers(0, 60)),
        "state": st.sampled_from(["present", "absent"]),
    }
    for key in draw(st.sets(st.sampled_from(sorted(optional)))):
        args[key] = draw(optional[key])
    if draw(st.booleans()):
        args["mode"] = "global"
    else:
        args["replicas"] = draw(st.integers(0, 20))
    return args


@settings(max_examples=200, deadline=None)
@given(service_args())
def test_any_valid_spec_survives_the_store(args):
    spec = parse_service(args, location="play.yml:1")
    stored = json.loads(json.dumps(spec_to_dict(spec)))
    back = spec_from_dict(stored)
    assert back == spec
    assert spec_hash(back) == spec_hash(spec)
    assert spec_to_dict(back) == spec_to_dict(spec)


# -- masked_env -----------------------------------------------------------------------------------


def test_masked_env_masks_declared_and_secret_looking_names():
    spec = parse(
        env={"MODE": "prod", "API_TOKEN": "t0k", "DB_PASSWORD": "hunter2", "db_pass": "x",
             "AWS_SECRET_ACCESS_KEY": "s", "SESSION_KEY": "k", "OAUTH_CLIENT": "o",
             "GIT_CREDENTIALS": "c", "PRIVATE_PEM": "p", "LICENSE_ID": "lic", "PORT": "80"},
        secret_env=["LICENSE_ID"],
    )  # fmt: skip
    assert masked_env(spec) == {
        "MODE": "prod", "PORT": "80", "LICENSE_ID": "********", "API_TOKEN": "********",
        "DB_PASSWORD": "********", "db_pass": "********", "AWS_SECRET_ACCESS_KEY": "********",
        "SESSION_KEY": "********", "OAUTH_CLIENT": "********", "GIT_CREDENTIALS": "********",
        "PRIVATE_PEM": "********",
    }  # fmt: skip


def test_masked_env_leaves_the_spec_alone():
    spec = parse(env={"API_TOKEN": "t0k"})
    masked_env(spec)
    assert spec.env == (("API_TOKEN", "t0k"),)


def test_masked_env_of_a_declared_name_that_is_not_set():
    assert masked_env(parse(env={"A": "1"}, secret_env=["B"])) == {"A": "1"}
