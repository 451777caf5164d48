"""Replica commands: the exact `docker run` of a replica (labels that make the cluster its own
record, ports, env with secrets masked where people look), and per-host scripts run for real with
`sh` and read back."""

from __future__ import annotations

import subprocess
from typing import Any

from orchestr.cluster.commands import (
    container_name,
    host_script,
    parse_host_script,
    parse_ports_label,
    ports_label,
    remove_replica,
    replica_options,
    run_replica,
    start_replica,
    stop_replica,
)
from orchestr.cluster.spec import parse_service, spec_hash
from orchestr.cluster.spec_types import ServiceSpec
from orchestr.transport.command import Command, Secret


def service(**args: Any) -> ServiceSpec:
    return parse_service({"name": "web", "image": "app:1", **args})


def test_container_names():
    assert container_name("web", "3", 12) == "web.3.e12"
    assert container_name("agent", "node-1", 1) == "agent.node-1.e1"


def test_ports_label_round_trip():
    pairs = ((80, 30004), (443, 8443))
    assert ports_label(pairs) == "80:30004,443:8443"
    assert parse_ports_label("80:30004,443:8443") == pairs
    assert ports_label(()) == "" and parse_ports_label("") == ()


def test_a_damaged_ports_label_keeps_only_what_it_can_read():
    assert parse_ports_label("80:30004,garbage,:9,x:1,443:8443,53") == ((80, 30004), (443, 8443))


# -- docker run of a replica -------------------------------------------------------------------

FULL = {
    "command": "serve --port 80 'a b'",
    "env": {"MODE": "prod", "DB_PASSWORD": "hunter2", "LICENSE": "L-123"},
    "secret_env": ["LICENSE"],
    "labels": {"team": "core"},
    "ports": ["30000-30010:80", "8443:443", 9000],
    "volumes": ["/srv/data:/data:ro"],
    "restart": "on-failure",
    "stop_timeout": 7,
    "resources": {"cpus": 0.5, "memory": "256M"},
}


def test_the_exact_docker_run_of_a_replica():
    spec = service(**FULL)
    digest = spec_hash(spec)
    command = run_replica(spec, "2", 3, ((80, 30004), (443, 8443)), host="node1")
    assert command.render() == (
        "docker run --detach --name web.2.e3 --hostname web-2-e3"
        " --env DB_PASSWORD=hunter2 --env LICENSE=L-123 --env MODE=prod"
        " --env ORCHESTR_SERVICE=web --env ORCHESTR_SLOT=2 --env ORCHESTR_HOST=node1"
        " --label orchestr.cpus=0.5 --label orchestr.epoch=3"
        " --label orchestr.managed-by=orchestr --label orchestr.memory-mb=256"
        " --label orchestr.ports=80:30004,443:8443 --label orchestr.service=web"
        f" --label orchestr.slot=2 --label orchestr.spec={digest} --label team=core"
        " --publish 30004:80 --publish 8443:443"
        " --volume /srv/data:/data:ro --restart on-failure --stop-timeout 7"
        " app:1 serve --port 80 'a b'"
    )


def test_secrets_are_masked_in_display_but_present_in_render():
    spec = service(**FULL)
    command = run_replica(spec, "2", 3, ((80, 30004), (443, 8443)), host="node1")
    shown = command.display()
    assert "hunter2" not in shown and "L-123" not in shown
    assert "--env *** --env *** --env MODE=prod" in shown
    assert "--env DB_PASSWORD=hunter2 --env LICENSE=L-123" in command.render()
    assert command.secrets == ("DB_PASSWORD=hunter2", "LICENSE=L-123")
    assert shown == command.render().replace("DB_PASSWORD=hunter2", "***").replace(
        "LICENSE=L-123", "***"
    )


def test_a_minimal_replica():
    spec = service()
    command = run_replica(spec, "1", 1, ())
    assert command.render() == (
        "docker run --detach --name web.1.e1 --hostname web-1-e1"
        " --env ORCHESTR_SERVICE=web --env ORCHESTR_SLOT=1 --env ORCHESTR_HOST="
        " --label orchestr.epoch=1 --label orchestr.managed-by=orchestr"
        f" --label orchestr.service=web --label orchestr.slot=1 --label orchestr.spec={spec_hash(spec)}"
        " --restart unless-stopped app:1"
    )
    assert command.display() == command.render()


def test_replica_options_tell_the_process_which_replica_it_is():
    spec = service(env={"A": "1"}, restart="always")
    options = replica_options(spec, "node-1", 4, (), host="node-1")
    assert options.env == (
        ("A", "1"), ("ORCHESTR_SERVICE", "web"), ("ORCHESTR_SLOT", "node-1"),
        ("ORCHESTR_HOST", "node-1"),
    )  # fmt: skip
    assert options.name == "web.node-1.e4"
    assert options.hostname == "web-node-1-e4"
    assert options.restart_policy == "always"
    assert options.stop_timeout is None
    assert options.command is None


def test_the_record_labels_win_over_user_labels_of_the_same_name():
    spec = service(labels={"orchestr.slot": "9", "orchestr.epoch": "99", "app": "x"})
    labels = dict(replica_options(spec, "1", 2, ()).labels)
    assert labels["orchestr.slot"] == "1" and labels["orchestr.epoch"] == "2"
    assert labels["app"] == "x"


def test_unpublished_ports_are_not_published():
    spec = service(ports=[9000, "8080:80"])
    options = replica_options(spec, "1", 1, ((80, 8080),))
    assert options.published_ports == ("8080:80",)
    assert dict(options.labels)["orchestr.ports"] == "80:8080"


def test_published_ports_follow_the_specs_order():
    spec = service(ports=["8443:443", "30000-30010:80"])
    options = replica_options(spec, "1", 1, ((80, 30002), (443, 8443)))
    assert options.published_ports == ("8443:443", "30002:80")
    assert dict(options.labels)["orchestr.ports"] == "80:30002,443:8443"


def test_one_container_port_published_on_two_host_ports():
    spec = service(ports=["8080:80", "8081:80"])
    options = replica_options(spec, "1", 1, ((80, 8080), (80, 8081)))
    assert options.published_ports == ("8080:80", "8081:80")
    assert dict(options.labels)["orchestr.ports"] == "80:8080,80:8081"


def test_stop_remove_start():
    assert stop_replica("web.1.e2").render() == "docker stop web.1.e2"
    assert stop_replica("web.1.e2", 15).render() == "docker stop --time 15 web.1.e2"
    assert remove_replica("web.1.e2").render() == "docker rm --force web.1.e2"
    assert start_replica("web.1.e2").render() == "docker start web.1.e2"


# -- host scripts, run with a real sh -----------------------------------------------------------


def run_sh(command: Command) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["sh", "-c", command.render()], capture_output=True, text=True, timeout=30, check=False
    )


HARMLESS = [
    Command.argv("true"),
    Command.argv("false"),
    Command.argv("echo", "hi"),
    Command.argv("sh", "-c", "echo oops >&2; exit 3"),
    Command.argv("echo", "it's", "a b", "$HOME"),
]


def test_host_script_reports_each_command_and_keeps_going():
    script = host_script(HARMLESS)
    done = run_sh(script)
    assert done.returncode == 0
    assert done.stderr == ""
    assert parse_host_script(done.stdout, len(HARMLESS)) == [
        (0, ""), (1, ""), (0, "hi"), (3, "oops"), (0, "it's a b $HOME"),
    ]  # fmt: skip


def test_host_script_can_stop_at_the_first_failure():
    done = run_sh(host_script(HARMLESS, keep_going=False))
    assert done.returncode == 1
    assert parse_host_script(done.stdout, len(HARMLESS)) == [
        (0, ""), (1, ""), (-1, ""), (-1, ""), (-1, ""),
    ]  # fmt: skip


def test_host_script_of_successes_without_keep_going_runs_them_all():
    commands = [Command.argv("echo", "one"), Command.argv("true"), Command.argv("echo", "two")]
    done = run_sh(host_script(commands, keep_going=False))
    assert done.returncode == 0
    assert parse_host_script(done.stdout, 3) == [(0, "one"), (0, ""), (0, "two")]


def test_host_script_keeps_multi_line_output_with_its_command():
    commands = [Command.argv("printf", "a\\nb\\n\\n c\\n"), Command.argv("echo", "next")]
    done = run_sh(host_script(commands))
    assert parse_host_script(done.stdout, 2) == [(0, "a\nb\n\n c"), (0, "next")]


def test_host_script_masks_secrets_in_display_only():
    commands = [Command.argv("echo", Secret("s3cret")), Command.argv("true")]
    script = host_script(commands)
    assert "s3cret" not in script.display()
    assert script.display().startswith('echo *** 2>&1; s=$?; echo; echo "@@orchestr 0 $s";')
    assert parse_host_script(run_sh(script).stdout, 2) == [(0, "s3cret"), (0, "")]


def test_the_text_of_a_host_script():
    script = host_script([Command.argv("true"), Command.argv("echo", "hi")], keep_going=False)
    assert script.render() == (
        'true 2>&1; s=$?; echo; echo "@@orchestr 0 $s"; [ $s -eq 0 ] || exit 1;'
        ' echo hi 2>&1; s=$?; echo; echo "@@orchestr 1 $s"; [ $s -eq 0 ] || exit 1;'
    )


def test_parse_host_script_of_nothing():
    assert parse_host_script("", 2) == [(-1, ""), (-1, "")]
    assert parse_host_script("", 0) == []
    assert parse_host_script("ssh: banner\n@@orchestr 0 0\n", 1) == [(0, "ssh: banner")]


def test_output_without_a_final_newline():
    commands = [Command.argv("printf", "hi"), Command.argv("echo", "there")]
    done = run_sh(host_script(commands))
    assert parse_host_script(done.stdout, 2) == [(0, "hi"), (0, "there")]
