"""docker_container: decisions over observed states, exact commands, diff, check mode, and the
idempotence invariant against a fake dockerd that reads the commands as docker would."""

from __future__ import annotations

import copy

import pytest
from fakedocker import FakeContext, FakeDocker, image
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestr.docker.parse import ParseError
from orchestr.playbook.modules.base import ModuleError, lookup, normalize_args
from orchestr.playbook.modules.docker_container import (
    decide,
    resolve_comparisons,
    spec_from_args,
    step_commands,
)

APP1 = image("sha256:app1", Env=["PATH=/bin", "LANG=C"], Cmd=["serve"], Labels={"vendor": "x"},
             Volumes={"/var/lib/app": {}})  # fmt: skip
APP2 = image("sha256:app2", Env=["PATH=/bin"], Cmd=["serve", "--v2"])


def fake() -> FakeDocker:
    docker = FakeDocker(images={"app:1": copy.deepcopy(APP1), "app:2": copy.deepcopy(APP2)})
    docker.networks = {"front": {}, "back": {}}
    return docker


def spec(**args):
    return spec_from_args({"name": "web", "image": "app:1", **args})


def created(docker: FakeDocker, running: bool = True, **args) -> dict:
    """A container as docker records it after our own create."""
    s = spec(**args)
    plan = decide(s, None, docker.images[s.options.image])
    for command in step_commands(s, plan):
        assert docker.execute(command).ok
    docker.containers["web"]["State"]["Running"] = running
    return docker.containers["web"]


def actions(plan) -> list[str]:
    return [step.action for step in plan.steps]


# -- deciding -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "exists", "running", "expected"),
    [
        ("started", False, False, ["create", "start"]),
        ("present", False, False, ["create"]),
        ("stopped", False, False, ["create"]),
        ("absent", False, False, []),
        ("started", True, True, []),
        ("started", True, False, ["start"]),
        ("present", True, True, []),
        ("present", True, False, []),
        ("stopped", True, True, ["stop"]),
        ("stopped", True, False, []),
        ("absent", True, True, ["stop", "remove"]),
        ("absent", True, False, ["remove"]),
    ],
)
def test_state_transitions(state, exists, running, expected):
    docker = fake()
    container = created(docker, running) if exists else None
    assert actions(decide(spec(state=state), container, docker.images["app:1"])) == expected


@pytest.mark.parametrize(
    ("change", "differs"),
    [
        ({"image": "app:2"}, ["image"]),
        ({"command": "serve --debug"}, ["command"]),
        ({"entrypoint": ["/bin/sh", "-c"]}, ["command", "entrypoint"]),
        ({"env": {"MODE": "dev"}}, ["env"]),
        ({"labels": {"team": "b"}}, ["labels"]),
        ({"published_ports": ["8081:80"]}, ["published_ports"]),
        ({"volumes": ["/srv:/data"]}, ["volumes"]),
        ({"healthcheck": {"test": "true", "interval": "10s"}}, ["healthcheck"]),
        ({"hostname": "other"}, ["hostname"]),
        ({"user": "nobody"}, ["user"]),
        ({"working_dir": "/tmp"}, ["working_dir"]),
        ({"privileged": True}, ["privileged"]),
        ({"init": True}, ["init"]),
        ({"cap_add": ["SYS_TIME"]}, ["cap_add"]),
    ],
)
def test_differences_that_recreate(change, differs):
    docker = fake()
    base = {"env": {"MODE": "prod"}, "labels": {"team": "a"}, "published_ports": ["8080:80"],
            "command": "serve", "hostname": "web1"}  # fmt: skip
    container = created(docker, **base)
    plan = decide(
        spec(**{**base, **change}), container, docker.images[change.get("image", "app:1")]
    )
    assert actions(plan) == ["stop", "remove", "create", "start"]
    assert [d.field for d in plan.differences] == differs
    assert plan.steps[0].reason == "differs: " + ", ".join(differs)


def test_updatable_differences_update_in_place():
    docker = fake()
    container = created(docker, memory="256m", restart_policy="on-failure", restart_retries=2)
    plan = decide(
        spec(memory="512m", cpus=1, restart_policy="on-failure", restart_retries=5),
        container,
        docker.images["app:1"],
    )
    assert actions(plan) == ["update"]
    assert [
        c.render()
        for c in step_commands(
            spec(memory="512m", cpus=1, restart_policy="on-failure", restart_retries=5), plan
        )
    ] == [  # fmt: skip
        "docker update --memory 536870912 --memory-swap 1073741824 --cpus 1"
        " --restart on-failure:5 web"
    ]


def test_allow_more_present_is_the_default_for_dicts_and_sets():
    docker = fake()
    container = created(docker, env={"A": "1", "B": "2"}, labels={"x": "1", "y": "2"},
                        published_ports=["8080:80", "9090:90"], cap_add=["NET_ADMIN", "SYS_TIME"],
                        volumes=["/srv:/data", "/cache"])  # fmt: skip
    subset = spec(env={"A": "1"}, labels={"x": "1"}, published_ports=["9090:90"],
                  cap_add=["net_admin"], volumes=["/srv:/data:rw"])  # fmt: skip
    assert decide(subset, container, docker.images["app:1"]).steps == ()
    strict = spec(env={"A": "1"}, comparisons={"env": "strict"})
    plan = decide(strict, container, docker.images["app:1"])
    assert [d.field for d in plan.differences] == ["env"]
    # strict env counts the image's env in: the same env as created is no difference
    same = spec(env={"A": "1", "B": "2"}, comparisons={"*": "strict"})
    assert [d.field for d in decide(same, container, docker.images["app:1"]).differences] == []


def test_a_container_keeps_the_image_cmd_when_no_command_is_given():
    docker = fake()
    container = created(docker)
    assert container["Config"]["Cmd"] == ["serve"]
    assert decide(spec(), container, docker.images["app:1"]).steps == ()
    assert decide(spec(command=""), container, docker.images["app:1"]).steps == ()


def test_comparisons_ignore_and_wildcard():
    docker = fake()
    container = created(docker, env={"A": "1"})
    assert decide(spec(image="app:2", comparisons={"image": "ignore"}), container,
                  docker.images["app:2"]).steps == ()  # fmt: skip
    assert decide(spec(env={"A": "2"}, hostname="x", comparisons={"*": "ignore"}), container,
                  docker.images["app:1"]).steps == ()  # fmt: skip
    assert resolve_comparisons(None)["networks"] == "allow_more_present"
    assert resolve_comparisons(None)["stop_timeout"] == "ignore"
    assert resolve_comparisons({"ports": "strict"})["published_ports"] == "strict"
    for bad in ({"image": "allow_more_present"}, {"nope": "strict"}, {"*": "allow_more_present"},
                {"env": "loose"}):  # fmt: skip
        with pytest.raises(ParseError):
            resolve_comparisons(bad)


def test_recreate_and_restart_force_action():
    docker = fake()
    container = created(docker)
    assert actions(decide(spec(recreate=True), container, APP1)) == [
        "stop", "remove", "create", "start",
    ]  # fmt: skip
    assert actions(decide(spec(restart=True), container, APP1)) == ["restart"]
    stopped = created(fake(), running=False)
    assert actions(decide(spec(restart=True), stopped, APP1)) == ["start"]
    assert actions(decide(spec(state="present", recreate=True), stopped, APP1)) == [
        "remove", "create",
    ]  # fmt: skip
    # present keeps a running container running across a recreate
    assert actions(decide(spec(state="present", recreate=True), container, APP1)) == [
        "stop", "remove", "create", "start",
    ]  # fmt: skip


def test_networks_connect_reconnect_and_strict_disconnect():
    docker = fake()
    container = created(docker, networks=[{"name": "front", "aliases": ["web"]}])
    assert container["HostConfig"]["NetworkMode"] == "front"
    wanted = [{"name": "front", "aliases": ["web"]}, {"name": "back"}]
    plan = decide(spec(networks=wanted), container, APP1)
    assert [(s.action, s.network.name) for s in plan.steps] == [("connect", "back")]
    moved = [{"name": "front", "ipv4_address": "10.0.0.9"}]
    plan = decide(spec(networks=moved), container, APP1)
    assert [(s.action, s.network.name) for s in plan.steps] == [
        ("disconnect", "front"), ("connect", "front"),
    ]  # fmt: skip
    plain = created(fake())
    plan = decide(spec(networks=["front"], comparisons={"networks": "strict"}), plain, APP1)
    assert [(s.action, s.network.name) for s in plan.steps] == [
        ("connect", "front"), ("disconnect", "bridge"),
    ]  # fmt: skip


def test_image_missing_on_host():
    docker = fake()
    plan = decide(spec(image="app:9"), None, None)
    assert plan.image_missing and plan.creates
    container = created(docker)
    plan = decide(spec(image="app:9"), container, None)
    assert [d.field for d in plan.differences] == ["image"] and plan.creates
    assert decide(spec(image="app:9", comparisons={"image": "ignore"}), container, None).steps == ()


def test_absent_with_force_kill_and_volumes():
    docker = fake()
    container = created(docker)
    s = spec(state="absent", force_kill=True, keep_volumes=False)
    plan = decide(s, container, None)
    assert [c.render() for c in step_commands(s, plan)] == ["docker rm --force --volumes web"]
    s = spec(state="stopped", force_kill=True)
    assert [c.render() for c in step_commands(s, decide(s, container, APP1))] == ["docker kill web"]


def test_commands_for_create_with_several_networks():
    s = spec(state="started", networks=["front", {"name": "back", "aliases": ["db"]}],
             stop_timeout=5)  # fmt: skip
    plan = decide(s, None, APP1)
    assert actions(plan) == ["create", "connect", "start"]
    assert [c.render() for c in step_commands(s, plan)] == [
        "docker create --name web --network front --stop-timeout 5 app:1",
        "docker network connect --alias db back web",
        "docker start web",
    ]
    docker = fake()
    running = created(docker)
    s2 = spec(env={"A": "2"}, stop_timeout=5)
    assert [c.render() for c in step_commands(s2, decide(s2, running, APP1))] == [
        "docker stop --time 5 web",
        "docker rm --force web",
        "docker run --detach --name web --env A=2 --stop-timeout 5 app:1",
    ]


def test_argument_errors():
    for bad in (
        {"env": {"DEBUG": True}},
        {"published_ports": ["80/icmp"]},
        {"volumes": [":/x"]},
        {"memory": "lots"},
        {"healthcheck": {"interval": "soon"}},
        {"healthcheck": {"test": "true", "bogus": 1}},
        {"networks": [{"aliases": ["x"]}]},
        {"restart_policy": "sometimes"},
        {"state": "running"},
        {"cpus": "many"},
    ):
        with pytest.raises(ParseError):
            spec(**bad)
    s = spec(env={"N": 1, "E": None}, command=["a", 2], healthcheck={"test": ["CMD", "x", "y z"]})
    assert s.options.env == (("N", "1"), ("E", ""))
    assert s.options.command == ("a", "2")
    assert s.options.healthcheck.test == ("CMD-SHELL", "x 'y z'")


# -- the module through a fake host ---------------------------------------------------------


async def apply(ctx: FakeContext, **args):
    module = lookup("community.docker.docker_container")
    return await module.run(normalize_args(module, {"name": "web", **args}), ctx)


async def test_module_creates_then_does_nothing():
    ctx = FakeContext(fake())
    result = await apply(ctx, image="app:1", env={"API_TOKEN": "t0p", "A": "1"}, ports=["8080:80"])
    assert result.changed
    assert ctx.commands == [
        "docker inspect --type container web ; echo --orchestr-section-- ; docker image inspect app:1",
        "docker run --detach --name web --env *** --env A=1 --publish 8080:80 app:1 >/dev/null"
        " && docker inspect --type container web",
    ]
    assert result.data["container"]["Image"] == "sha256:app1"
    assert result.data["actions"] == [
        {"create": "no such container"},
        {"start": "no such container"},
    ]
    assert result.diff == [{"before": {"exists": False}, "after": {"exists": True, "running": True},
                            "before_header": "container web", "after_header": "container web"}]  # fmt: skip
    ctx.commands.clear()
    again = await apply(ctx, image="app:1", env={"API_TOKEN": "t0p", "A": "1"}, ports=["8080:80"])
    assert not again.changed and again.diff == [] and len(ctx.commands) == 1
    assert again.data["container"]["Id"] == result.data["container"]["Id"]


async def test_module_diff_shows_differing_fields_masked():
    ctx = FakeContext(fake())
    await apply(ctx, image="app:1", env={"DB_PASSWORD": "a", "A": "1"})
    result = await apply(ctx, image="app:2", env={"DB_PASSWORD": "b", "A": "1"})
    diff = result.diff[0]
    assert diff["before"] == {"exists": True, "running": True,
                              "env": {"PATH": "/bin", "LANG": "C", "DB_PASSWORD": "***", "A": "1"},
                              "image": "sha256:app1"}  # fmt: skip
    assert diff["after"] == {"exists": True, "running": True,
                             "env": {"PATH": "/bin", "DB_PASSWORD": "***", "A": "1"},
                             "image": "sha256:app2"}  # fmt: skip
    assert ctx.docker.containers["web"]["Image"] == "sha256:app2"


async def test_check_mode_decides_but_never_acts():
    docker = fake()
    ctx = FakeContext(docker, check_mode=True)
    for args in ({"image": "app:1"}, {"image": "app:9"}, {"state": "absent"}):
        result = await apply(ctx, **args)
        assert result.changed == (args.get("state") != "absent")
    created(docker)
    before = copy.deepcopy(docker.containers)
    for args in ({"image": "app:2"}, {"state": "absent"}, {"state": "stopped"},
                 {"image": "app:1", "restart": True}):  # fmt: skip
        result = await apply(ctx, **args)
        assert result.changed
        assert result.data["container"]["Id"] == before["web"]["Id"]
    assert docker.containers == before
    assert all(c.startswith("docker inspect --type container web ;") or
               c == "docker inspect --type container web" for c in ctx.commands)  # fmt: skip


async def test_module_fails_clearly():
    ctx = FakeContext(fake())
    with pytest.raises(ModuleError, match="not on node1.*docker_image.*source: local"):
        await apply(ctx, image="app:9")
    with pytest.raises(ModuleError, match="image is required"):
        await apply(ctx)
    with pytest.raises(ModuleError, match="boolean"):
        await apply(ctx, image="app:1", env={"X": True})
    ctx.docker.networks.clear()
    with pytest.raises(ModuleError, match="network front not found.*running: docker run"):
        await apply(ctx, image="app:1", networks=["front"])
    result = await apply(FakeContext(fake()), image="app:1", pull=True)
    assert "pull is ignored" in result.data["warnings"][0]


async def test_absent_removes_and_returns_empty_container():
    ctx = FakeContext(fake())
    created(ctx.docker)
    result = await apply(ctx, state="absent", stop_timeout=3)
    assert result.changed and result.data["container"] == {}
    assert (
        ctx.commands[-1]
        == "docker stop --time 3 web >/dev/null && docker rm --force web >/dev/null"
    )
    assert "web" not in ctx.docker.containers


# -- the idempotence invariant --------------------------------------------------------------

WORDS = st.sampled_from(["serve", "--port", "80", "a b", "-c", "echo hi", "/bin/sh"])
MODES = {
    "image": ["strict", "ignore"], "env": ["strict", "ignore", "allow_more_present"],
    "labels": ["strict", "allow_more_present"], "published_ports": ["strict", "allow_more_present"],
    "volumes": ["strict", "allow_more_present"], "networks": ["strict", "allow_more_present"],
    "healthcheck": ["strict", "allow_more_present"], "command": ["strict", "ignore"],
    "cap_add": ["strict", "allow_more_present"], "stop_timeout": ["strict", "ignore"],
}  # fmt: skip


@st.composite
def comparisons(draw):
    keys = draw(st.lists(st.sampled_from(sorted(MODES)), unique=True, max_size=4))
    result = {key: draw(st.sampled_from(MODES[key])) for key in keys}
    if draw(st.booleans()):
        result["*"] = draw(st.sampled_from(["strict", "ignore"]))
    return result


@st.composite
def networks(draw):
    pool = [{"name": "front", "aliases": ["web"]}, {"name": "back", "ipv4_address": "10.1.0.5"},
            {"name": "bridge"}, "front"]  # fmt: skip
    chosen = draw(st.permutations(pool[:3]))[: draw(st.integers(0, 3))]
    return chosen


TASKS = st.fixed_dictionaries(
    {"image": st.sampled_from(["app:1", "app:2"]),
     "state": st.sampled_from(["started", "stopped", "present"])},
    optional={
        "command": st.one_of(st.lists(WORDS, max_size=3), st.sampled_from(["serve --debug", ""])),
        "entrypoint": st.lists(WORDS, max_size=3),
        "env": st.dictionaries(st.sampled_from(["A", "PATH", "API_TOKEN"]),
                               st.sampled_from(["1", "x y", ""])),
        "labels": st.dictionaries(st.sampled_from(["vendor", "team"]), st.sampled_from(["x", "y"])),
        "published_ports": st.lists(st.sampled_from(["8080:80", "127.0.0.1:8081:80", "80", "all",
                                                     "9000-9001:9000-9001/udp"]), unique=True),
        "volumes": st.lists(st.sampled_from(["/srv:/data:ro", "named:/named", "/anon",
                                             "/var/lib/app"]), unique=True),
        "restart_policy": st.sampled_from(["no", "on-failure", "always", "unless-stopped"]),
        "restart_retries": st.integers(0, 5),
        "healthcheck": st.fixed_dictionaries({}, optional={
            "test": st.sampled_from(["true", ["CMD", "curl", "-f", "http://x"], ["NONE"]]),
            "interval": st.sampled_from(["5s", "1m30s", "500ms"]),
            "retries": st.integers(1, 5),
            "start_period": st.sampled_from(["10s", "2m"]),
        }),
        "networks": networks(),
        "hostname": st.sampled_from(["web1", "web2"]),
        "user": st.sampled_from(["", "nobody", "1000:1000"]),
        "working_dir": st.sampled_from(["", "/app"]),
        "memory": st.sampled_from(["7.3m", "512m", "1g"]),
        "cpus": st.sampled_from([0.5, 1, 1.5]),
        "init": st.booleans(),
        "privileged": st.booleans(),
        "cap_add": st.lists(st.sampled_from(["NET_ADMIN", "sys_time"]), unique=True),
        "cap_drop": st.lists(st.sampled_from(["ALL", "MKNOD"]), unique=True),
        "stop_timeout": st.integers(1, 30),
        "comparisons": comparisons(),
        "force_kill": st.booleans(),
        "keep_volumes": st.booleans(),
    },
)  # fmt: skip


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(task=TASKS, before=st.one_of(st.none(), TASKS), running=st.booleans())
def test_acting_on_the_decision_leaves_nothing_to_do(task, before, running):
    docker = fake()
    if before is not None:
        created(docker, running, **before)
    s = spec(**task)
    plan = decide(s, docker.containers.get("web"), docker.images[task["image"]])
    for command in step_commands(s, plan):
        result = docker.execute(command)
        assert result.ok, (command.render(), result.stderr)
    again = decide(s, docker.containers.get("web"), docker.images[task["image"]])
    assert again.steps == (), (plan, again)
    container = docker.containers["web"]
    assert container["State"]["Running"] == (
        task["state"] == "started" or (task["state"] == "present" and plan.running_after)
    )
