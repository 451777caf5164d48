"""docker argv builders: exact command lines, secrets masked in what operators see."""

from __future__ import annotations

from orchestr.docker.commands import (
    ContainerOptions,
    Healthcheck,
    NetworkAttachment,
    chain,
    connect_network,
    create_container,
    create_network,
    disconnect_network,
    inspect_container,
    inspect_image,
    kill_container,
    observe,
    remove_container,
    remove_image,
    remove_network,
    restart_container,
    restart_flag,
    run_container,
    start_container,
    stop_container,
    update_container,
)

S = 1_000_000_000


def test_minimal_run():
    options = ContainerOptions(name="web", image="app:1")
    assert run_container(options).render() == "docker run --detach --name web app:1"
    assert run_container(options, detach=False).render() == "docker run --name web app:1"
    assert create_container(options).render() == "docker create --name web app:1"


def test_full_run_in_a_fixed_order():
    options = ContainerOptions(
        name="web",
        image="registry.local/app:1.2",
        command=("serve", "--port", "8080", "a b"),
        env=(("MODE", "prod"), ("DB_PASSWORD", "hunter2"), ("EMPTY", "")),
        labels=(("team", "core"),),
        published_ports=("127.0.0.1:8080:80", "9000-9001:9000-9001/udp"),
        volumes=("/srv/data:/data:ro", "/cache"),
        restart_policy="on-failure",
        restart_retries=5,
        healthcheck=Healthcheck(
            ("CMD-SHELL", "curl -f http://localhost/healthz"), 5 * S, 3 * S, 3, 90 * S
        ),  # fmt: skip
        networks=(
            NetworkAttachment("front", "10.0.0.5", ("web", "www")),
            NetworkAttachment("back"),
        ),
        hostname="web1",
        user="1000:1000",
        working_dir="/app",
        memory="512m",
        cpus=1.5,
        init=True,
        privileged=False,
        cap_add=("NET_ADMIN",),
        cap_drop=("ALL",),
        stop_timeout=20,
    )
    expected = (
        "docker run --detach --name web --hostname web1 --user 1000:1000 --workdir /app"
        " --env MODE=prod --env DB_PASSWORD=hunter2 --env EMPTY= --label team=core"
        " --publish 127.0.0.1:8080:80 --publish 9000-9001:9000-9001/udp"
        " --volume /srv/data:/data:ro --volume /cache --restart on-failure:5"
        " --health-cmd 'curl -f http://localhost/healthz' --health-interval 5s"
        " --health-timeout 3s --health-start-period 90s --health-retries 3"
        " --network front --ip 10.0.0.5 --network-alias web --network-alias www"
        " --memory 512m --cpus 1.5 --init --cap-add NET_ADMIN --cap-drop ALL --stop-timeout 20"
        " registry.local/app:1.2 serve --port 8080 'a b'"
    )
    command = run_container(options)
    assert command.render() == expected
    assert command.display() == expected.replace("DB_PASSWORD=hunter2", "***")
    assert command.secrets == ("DB_PASSWORD=hunter2",)
    assert options.later_networks == (NetworkAttachment("back"),)


def test_entrypoint_takes_one_word_and_the_rest_goes_before_the_command():
    options = ContainerOptions("web", "app:1", command=("echo hi",), entrypoint=("/bin/sh", "-c"))
    assert run_container(options).render() == (
        "docker run --detach --name web --entrypoint /bin/sh app:1 -c 'echo hi'"
    )
    cleared = ContainerOptions("web", "app:1", command=("/bin/true",), entrypoint=())
    assert create_container(cleared).render() == (
        "docker create --name web --entrypoint '' app:1 /bin/true"
    )


def test_network_mode_and_then_every_network_connected_later():
    options = ContainerOptions("web", "app:1", network_mode="host", publish_all_ports=True,
                               networks=(NetworkAttachment("front"),))  # fmt: skip
    assert run_container(options).render() == (
        "docker run --detach --name web --publish-all --network host app:1"
    )
    assert options.first_network is None
    assert options.later_networks == (NetworkAttachment("front"),)


def test_no_healthcheck_and_timings_alone():
    disabled = ContainerOptions("web", "app:1", healthcheck=Healthcheck(("NONE",)))
    assert "--no-healthcheck app:1" in run_container(disabled).render()
    timings = ContainerOptions("web", "app:1", healthcheck=Healthcheck(interval=S // 2))
    assert run_container(timings).render().endswith("--health-interval 500ms app:1")


def test_restart_flag():
    assert restart_flag(None, None) == "no"
    assert restart_flag("on-failure", 3) == "on-failure:3"
    assert restart_flag("on-failure", None) == "on-failure"
    assert restart_flag("always", 3) == "always"  # docker refuses a count with other policies


def test_lifecycle_commands():
    assert start_container("web").render() == "docker start web"
    assert stop_container("web").render() == "docker stop web"
    assert stop_container("web", 30).render() == "docker stop --time 30 web"
    assert kill_container("web").render() == "docker kill web"
    assert restart_container("web", 5).render() == "docker restart --time 5 web"
    assert remove_container("web").render() == "docker rm --force web"
    assert remove_container("web", volumes=True).render() == "docker rm --force --volumes web"
    assert update_container("web", memory=1 << 30, cpus=0.5, restart="always").render() == (
        "docker update --memory 1073741824 --memory-swap 2147483648 --cpus 0.5 --restart always web"
    )
    assert inspect_container("my web").render() == "docker inspect --type container 'my web'"
    assert inspect_image("app:1").render() == "docker image inspect app:1"
    assert remove_image("app:1", force=True).render() == "docker image rm --force app:1"


def test_network_commands():
    attachment = NetworkAttachment("front", "10.0.0.5", ("web",))
    assert connect_network("c1", attachment).render() == (
        "docker network connect --ip 10.0.0.5 --alias web front c1"
    )
    assert connect_network("c1", NetworkAttachment("back")).render() == (
        "docker network connect back c1"
    )
    assert disconnect_network("c1", "back").render() == "docker network disconnect back c1"
    assert disconnect_network("c1", "back", force=True).render() == (
        "docker network disconnect --force back c1"
    )
    assert create_network(
        "front",
        driver="bridge",
        ipam=[{"subnet": "10.0.0.0/24", "gateway": "10.0.0.1", "iprange": "10.0.0.128/25"}],
        internal=True,
        attachable=True,
        labels=[("team", "core")],
        options=[("com.docker.network.bridge.name", "br-front")],
    ).render() == (
        "docker network create --driver bridge --subnet 10.0.0.0/24 --gateway 10.0.0.1"
        " --ip-range 10.0.0.128/25 --internal --attachable --label team=core"
        " --opt com.docker.network.bridge.name=br-front front"
    )
    assert create_network("plain").render() == "docker network create plain"
    assert remove_network("front").render() == "docker network rm front"


def test_observe_and_chain_in_one_round_trip():
    assert observe(inspect_container("web"), inspect_image("app:1")).render() == (
        "docker inspect --type container web ; echo --orchestr-section-- ;"
        " docker image inspect app:1"
    )
    assert chain([stop_container("web"), remove_container("web")]).render() == (
        "docker stop web >/dev/null && docker rm --force web >/dev/null"
    )
    assert chain([start_container("web")], inspect_container("web")).render() == (
        "docker start web >/dev/null && docker inspect --type container web"
    )
    assert chain([], inspect_container("web")).render() == "docker inspect --type container web"
