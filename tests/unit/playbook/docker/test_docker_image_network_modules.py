"""docker_image (ship from the controller, never pull) and docker_network (recreate only with
force when containers are attached): decisions, commands, check mode."""

from __future__ import annotations

import pytest
from fakedocker import FakeContext

from orchestr.playbook.modules import docker_image
from orchestr.playbook.modules.base import ModuleError, lookup, normalize_args
from orchestr.playbook.modules.docker_image import decide_image, reference
from orchestr.playbook.modules.docker_network import (
    decide_network,
    differences,
    plan_commands,
    spec_from_args,
)
from orchestr.transport.base import Result


class Host(FakeContext):
    """A fake host answering the few commands these modules send, from canned inspect JSON."""

    def __init__(self, answers: dict[str, Result], **kwargs):
        super().__init__(**kwargs)
        self.answers = answers

    async def run(self, command, *, stdin=None, timeout=None):
        self.commands.append(command.display())
        for prefix, result in self.answers.items():
            if command.render().startswith(prefix):
                return result
        return Result(0, "", "", 0.0)


def found(obj) -> Result:
    import json

    return Result(0, json.dumps([obj]), "", 0.0)


MISSING_IMAGE = Result(1, "[]\n", "Error: No such image: app:1\n", 0.0)


async def call(module_name, ctx, **args):
    module = lookup(module_name)
    return await module.run(normalize_args(module, args), ctx)


# -- docker_image ----------------------------------------------------------------------------


def test_reference():
    assert reference("app", "latest") == "app:latest"
    assert reference("app", "1") == "app:1"
    assert reference("app:2", "1") == "app:2"
    assert reference("registry:5000/team/app", "1") == "registry:5000/team/app:1"
    assert reference("app@sha256:abc", "1") == "app@sha256:abc"


@pytest.mark.parametrize(
    ("state", "source", "host", "controller", "force", "action"),
    [
        ("present", "local", None, "sha256:a", False, "push"),
        ("present", "local", "sha256:b", "sha256:a", False, "push"),
        ("present", "local", "sha256:a", "sha256:a", False, ""),
        ("present", "local", "sha256:a", "sha256:a", True, "push"),
        ("present", None, "sha256:a", None, False, ""),
        ("absent", None, "sha256:a", None, False, "remove"),
        ("absent", "pull", None, None, False, ""),
    ],
)
def test_decide_image(state, source, host, controller, force, action):
    assert decide_image(state, source, host, controller, force).action == action


@pytest.mark.parametrize(
    ("source", "host", "controller", "message"),
    [
        ("pull", None, None, "source: pull is not supported.*source: local"),
        ("build", None, None, "docker build.*source: local"),
        ("load", None, None, "docker load"),
        (None, None, None, "no source is given: use source: local"),
        ("local", None, None, "not on the controller"),
    ],
)
def test_decide_image_refuses(source, host, controller, message):
    with pytest.raises(ModuleError, match=message):
        decide_image("present", source, host, controller)


async def test_image_push_only_when_ids_differ(monkeypatch):
    async def controller(ref):
        assert ref == "app:1"
        return "sha256:new"

    monkeypatch.setattr(docker_image, "controller_image_id", controller)
    same = Host({"docker image inspect app:1": found({"Id": "sha256:new"})})
    result = await call("community.docker.docker_image", same, name="app", tag="1", source="local")
    assert not result.changed and same.pushed == []

    check = Host({"docker image inspect": found({"Id": "sha256:old"})}, check_mode=True)
    result = await call("docker_image", check, name="app:1", source="local")
    assert result.changed and check.pushed == []
    assert result.diff[0]["before"] == {"exists": True, "id": "sha256:old"}
    assert result.diff[0]["after"] == {"exists": True, "id": "sha256:new"}

    class Shipping(Host):
        async def push_image(self, ref):
            self.pushed.append(ref)
            self.answers["docker image inspect"] = found({"Id": "sha256:new", "Size": 1})
            return {"changed": True, "bytes_sent": 123}

    host = Shipping({"docker image inspect": MISSING_IMAGE})
    result = await call("docker_image", host, name="app:1", source="local")
    assert result.changed and host.pushed == ["app:1"]
    assert result.data["push"] == {"changed": True, "bytes_sent": 123}
    assert result.data["image"] == {"Id": "sha256:new", "Size": 1}


async def test_image_absent():
    host = Host({"docker image inspect": found({"Id": "sha256:a"})})
    result = await call("docker_image", host, name="app:1", state="absent", force_absent=True)
    assert result.changed and host.commands[-1] == "docker image rm --force app:1"
    gone = Host({"docker image inspect": MISSING_IMAGE})
    assert not (await call("docker_image", gone, name="app:1", state="absent")).changed
    checking = Host({"docker image inspect": found({"Id": "sha256:a"})}, check_mode=True)
    assert (await call("docker_image", checking, name="app:1", state="absent")).changed
    assert checking.commands == ["docker image inspect app:1"]


async def test_image_host_errors_are_not_absence():
    broken = Host({"docker image inspect": Result(1, "", "Cannot connect to the Docker daemon", 0)})
    with pytest.raises(ModuleError, match="Cannot connect"):
        await call("docker_image", broken, name="app:1", state="absent")


# -- docker_network --------------------------------------------------------------------------

NET = {
    "Name": "front",
    "Driver": "bridge",
    "IPAM": {"Config": [{"Subnet": "10.0.0.0/24", "Gateway": "10.0.0.1"}]},
    "Internal": False,
    "Attachable": False,
    "Labels": {"team": "core", "extra": "1"},
    "Options": {},
    "Containers": {},
}


def net(**args):
    return spec_from_args({"name": "front", **args})


@pytest.mark.parametrize(
    ("args", "fields"),
    [
        ({}, []),
        ({"ipam_config": [{"subnet": "10.0.0.0/24"}]}, []),
        ({"ipam_config": [{"subnet": "10.0.0.0/24", "gateway": "10.0.0.1"}]}, []),
        ({"ipam_config": [{"subnet": "10.0.1.0/24"}]}, ["ipam_config"]),
        ({"ipam_config": [{"subnet": "10.0.0.0/24", "iprange": "10.0.0.0/25"}]}, ["ipam_config"]),
        ({"ipam_config": []}, ["ipam_config"]),
        ({"driver": "macvlan"}, ["driver"]),
        ({"internal": True}, ["internal"]),
        ({"internal": False, "attachable": False}, []),
        ({"labels": {"team": "core"}}, []),
        ({"labels": {"team": "edge"}}, ["labels"]),
        ({"driver_options": {"com.docker.network.bridge.name": "br0"}}, ["driver_options"]),
    ],
)
def test_network_differences(args, fields):
    assert list(differences(net(**args), NET)) == fields


def test_network_decisions_and_commands():
    spec = net(ipam_config=[{"subnet": "10.0.1.0/24", "gateway": "10.0.1.1"}], labels={"b": "2", "a": "1"},
               internal=True, driver_options={"mtu": "1400"})  # fmt: skip
    plan = decide_network(spec, None)
    assert plan.steps == ("create",)
    assert [c.render() for c in plan_commands(spec, plan)] == [
        "docker network create --driver bridge --subnet 10.0.1.0/24 --gateway 10.0.1.1"
        " --internal --label a=1 --label b=2 --opt mtu=1400 front"
    ]
    attached = NET | {"Containers": {"abc": {"Name": "web"}, "def": {"Name": "db"}}}
    with pytest.raises(ModuleError, match="containers attached \\(db, web\\): use force: true"):
        decide_network(spec, attached)
    forced = net(ipam_config=[{"subnet": "10.0.1.0/24"}], force=True)
    plan = decide_network(forced, attached)
    assert [c.render() for c in plan_commands(forced, plan)] == [
        "docker network disconnect --force front db",
        "docker network disconnect --force front web",
        "docker network rm front",
        "docker network create --driver bridge --subnet 10.0.1.0/24 front",
    ]
    assert decide_network(net(), attached).steps == ()
    assert decide_network(net(state="absent"), None).steps == ()
    assert decide_network(net(state="absent"), NET).steps == ("remove",)
    with pytest.raises(ModuleError, match="use force: true"):
        decide_network(net(state="absent"), attached)
    assert decide_network(net(state="absent", force=True), attached).steps == (
        "disconnect db", "disconnect web", "remove",
    )  # fmt: skip


async def test_network_module_check_mode_and_diff():
    host = Host({"docker network inspect": found(NET)}, check_mode=True)
    result = await call("community.docker.docker_network", host, name="front",
                        ipam_config=[{"subnet": "10.0.9.0/24"}])  # fmt: skip
    assert result.changed and host.commands == ["docker network inspect front"]
    assert result.diff[0]["before"]["ipam_config"] == [
        {"subnet": "10.0.0.0/24", "gateway": "10.0.0.1"}
    ]
    assert result.diff[0]["after"]["ipam_config"] == [{"subnet": "10.0.9.0/24"}]
    missing = Result(1, "[]\n", "Error response from daemon: network front not found\n", 0.0)
    host = Host({"docker network inspect": missing})
    result = await call("docker_network", host, name="front")
    assert result.changed
    assert host.commands[-1] == (
        "docker network create --driver bridge front >/dev/null && docker network inspect front"
    )
    with pytest.raises(ModuleError, match="ipam_config"):
        await call("docker_network", Host({}), name="front", ipam_config=[{"cidr": "x"}])
