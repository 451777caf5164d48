"""OpenSSH argument lines and Ansible connection variables -> ConnectionSettings (pure)."""

from __future__ import annotations

import pytest

from orchestr.errors import OrchestrError
from orchestr.inventory import load_inventory
from orchestr.lab.inventory_file import render_inventory, ssh_common_args
from orchestr.lab.model import LabHost
from orchestr.transport.command import Become, Secret
from orchestr.transport.settings import SSHOptions, parse_ssh_args, settings_for

KH = "/state/labs/itest/known_hosts"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", SSHOptions()),
        (ssh_common_args(KH), SSHOptions(known_hosts_files=(KH,), strict_host_key_checking="yes")),
        ("-o UserKnownHostsFile=/a -oStrictHostKeyChecking=accept-new",
         SSHOptions(known_hosts_files=("/a",), strict_host_key_checking="accept-new")),
        ("-o StrictHostKeyChecking no", SSHOptions(strict_host_key_checking="no")),
        ("-o StrictHostKeyChecking=off", SSHOptions(strict_host_key_checking="no")),
        ("-o StrictHostKeyChecking=ask", SSHOptions(strict_host_key_checking="yes")),
        ("-o stricthostkeychecking=NO", SSHOptions(strict_host_key_checking="no")),
        ("-o 'UserKnownHostsFile=/a /b'", SSHOptions(known_hosts_files=("/a", "/b"))),
        ("-o Port=2222 -o User=bob", SSHOptions(port=2222, user="bob")),
        ("-oPort=2200", SSHOptions(port=2200)),
        ("-o Port 2201", SSHOptions(port=2201)),
        ("-p 23 -l al", SSHOptions(port=23, user="al")),
        ("-p23 -lal", SSHOptions(port=23, user="al")),
        ("-i ~/.ssh/a -o IdentityFile=/k2 -i/k3",
         SSHOptions(identity_files=("~/.ssh/a", "/k2", "/k3"))),
        ("-J jump@bastion:2222", SSHOptions(proxy_jump="jump@bastion:2222")),
        ("-o ProxyJump=b1,b2", SSHOptions(proxy_jump="b1,b2")),
        ("-F /etc/orchestr/ssh_config", SSHOptions(config_file="/etc/orchestr/ssh_config")),
        ("-o ConnectTimeout=5", SSHOptions(connect_timeout=5.0)),
        # Ansible's own defaults, and other options that change nothing for asyncssh: silent.
        ("-C -o ControlMaster=auto -o ControlPersist=60s -o ControlPath=/tmp/%C "
         "-o KbdInteractiveAuthentication=no -o PreferredAuthentications=publickey "
         "-o PasswordAuthentication=no -o IdentitiesOnly=yes -o LogLevel=ERROR "
         "-o ServerAliveInterval=30 -o BatchMode=yes",
         SSHOptions(ignored=("-C",))),
        # What cannot be honored is reported, never silently dropped.
        ("-o ForwardX11=yes -v -o Port=2", SSHOptions(port=2, ignored=("-o ForwardX11=yes", "-v"))),
        ('-o ProxyCommand="nc %h %p"', SSHOptions(ignored=("-o ProxyCommand=nc %h %p",))),
    ],
)  # fmt: skip
def test_parse_ssh_args(text, expected):
    assert parse_ssh_args(text) == expected


def test_option_with_key_and_value_in_one_argument():
    # OpenSSH takes -o "Port 2222" like a config line: keyword, whitespace, value.
    parsed = parse_ssh_args("-o 'Port 2222' -o StrictHostKeyChecking=no")
    assert parsed.port == 2222
    assert parsed.strict_host_key_checking == "no"
    assert parsed.ignored == ()


def _lab_host_vars(path):
    inventory = load_inventory([str(path)])
    return {host.name: host.vars for host in inventory.select("all")}


def test_settings_from_the_lab_inventory_itself(tmp_path):
    hosts = [
        LabHost("itest", "node1", "node", "198.18.0.11"),
        LabHost("itest", "node2", "node", "198.18.0.12"),
    ]
    path = tmp_path / "inventory.yml"
    path.write_text(render_inventory("itest", hosts, "/state/id_ed25519", KH))
    variables = _lab_host_vars(path)
    assert sorted(variables) == ["node1", "node2"]
    settings = settings_for("node2", variables["node2"])
    assert settings.name == "node2"
    assert settings.connection == "ssh"
    assert settings.address == "198.18.0.12"
    assert settings.port is None
    assert settings.user == "root"
    assert settings.key_files == ("/state/id_ed25519",)
    assert settings.known_hosts_files == (KH,)
    assert settings.host_key_policy == "strict"
    assert settings.become is None
    assert settings.password is None
    assert settings.warnings == ()


@pytest.mark.parametrize(
    ("variables", "field", "value"),
    [
        ({}, "address", "web1"),
        ({}, "connection", "ssh"),
        ({"ansible_host": "10.0.0.5"}, "address", "10.0.0.5"),
        ({"ansible_ssh_host": "10.0.0.6"}, "address", "10.0.0.6"),
        ({"ansible_host": "10.0.0.5", "ansible_ssh_host": "10.0.0.6"}, "address", "10.0.0.5"),
        ({"ansible_host": ""}, "address", "web1"),
        ({"ansible_port": 2222}, "port", 2222),
        ({"ansible_port": "2222"}, "port", 2222),
        ({"ansible_ssh_port": 2200}, "port", 2200),
        ({"ansible_ssh_common_args": "-p 2300"}, "port", 2300),
        ({"ansible_port": 22, "ansible_ssh_common_args": "-p 2300"}, "port", 22),
        ({"ansible_user": "deploy"}, "user", "deploy"),
        ({"ansible_ssh_user": "ops"}, "user", "ops"),
        ({"ansible_ssh_extra_args": "-l extra"}, "user", "extra"),
        ({"ansible_ssh_private_key_file": "~/k"}, "key_files", ("~/k",)),
        ({"ansible_private_key_file": "/k"}, "key_files", ("/k",)),
        ({"ansible_private_key_file": "/k", "ansible_ssh_extra_args": "-i /k2"},
         "key_files", ("/k", "/k2")),
        ({"ansible_password": "pw"}, "password", Secret("pw")),
        ({"ansible_ssh_pass": "pw2"}, "password", Secret("pw2")),
        ({"ansible_ssh_password": 1234}, "password", Secret("1234")),
        ({"ansible_timeout": 7}, "connect_timeout", 7.0),
        ({"ansible_ssh_timeout": "3.5"}, "connect_timeout", 3.5),
        ({"ansible_ssh_common_args": "-o ConnectTimeout=4"}, "connect_timeout", 4.0),
        ({"ansible_timeout": 9, "ansible_ssh_common_args": "-o ConnectTimeout=4"},
         "connect_timeout", 9.0),
        ({"ansible_ssh_common_args": "-o StrictHostKeyChecking=no"}, "host_key_policy", "off"),
        ({"ansible_ssh_extra_args": "-o StrictHostKeyChecking=accept-new"},
         "host_key_policy", "accept-new"),
        ({}, "host_key_policy", None),
        ({"ansible_ssh_common_args": "-J bastion"}, "proxy_jump", "bastion"),
        ({"ansible_ssh_common_args": "-F /cfg"}, "config_file", "/cfg"),
        ({"ansible_connection": "local"}, "connection", "local"),
        ({"ansible_connection": "docker"}, "connection", "docker"),
        # become
        ({"ansible_become": True}, "become", Become()),
        ({"ansible_become": "yes"}, "become", Become()),
        ({"ansible_become": "True"}, "become", Become()),
        ({"ansible_become": "no", "ansible_become_user": "x"}, "become", None),
        ({"ansible_become": False, "ansible_become_password": "pw"}, "become", None),
        ({}, "become", None),
        ({"ansible_become": 1, "ansible_become_user": "app"}, "become", Become(user="app")),
        ({"ansible_become": True, "ansible_become_password": "pw"},
         "become", Become(password=Secret("pw"))),
        ({"ansible_become": True, "ansible_become_pass": "pw2"},
         "become", Become(password=Secret("pw2"))),
        ({"ansible_become": True, "ansible_become_flags": "-E"}, "become", Become(flags="-E")),
    ],
)  # fmt: skip
def test_settings_for(variables, field, value):
    assert getattr(settings_for("web1", variables), field) == value


def test_common_and_extra_args_are_both_read():
    settings = settings_for(
        "h",
        {
            "ansible_ssh_common_args": "-o UserKnownHostsFile=/kh -o StrictHostKeyChecking=yes",
            "ansible_ssh_extra_args": "-J bastion -o Port=2022",
        },
    )
    assert settings.known_hosts_files == ("/kh",)
    assert settings.host_key_policy == "strict"
    assert settings.proxy_jump == "bastion"
    assert settings.port == 2022


def test_unsupported_options_are_reported_per_host():
    settings = settings_for(
        "web1",
        {"ansible_ssh_common_args": "-o ForwardX11=yes -o ControlMaster=auto", "ansible_port": 2},
    )
    assert settings.warnings == ("web1: ignoring unsupported SSH option -o ForwardX11=yes",)
    assert settings.port == 2


def test_unsupported_become_method_is_reported():
    settings = settings_for("web1", {"ansible_become": True, "ansible_become_method": "su"})
    assert len(settings.warnings) == 1
    assert "web1" in settings.warnings[0]
    assert "'su'" in settings.warnings[0]


def test_become_password_is_a_secret():
    settings = settings_for("h", {"ansible_become": True, "ansible_become_password": "pw"})
    assert isinstance(settings.become.password, Secret)
    assert str(settings.become.password) == "***"


@pytest.mark.parametrize(
    "variables",
    [
        {"ansible_port": "ssh"},
        {"ansible_ssh_common_args": "-p"},
        {"ansible_ssh_common_args": "-o ConnectTimeout=soon"},
        {"ansible_timeout": "ten"},
    ],
)
def test_malformed_numbers_are_operator_errors(variables):
    with pytest.raises(OrchestrError):
        settings_for("web1", variables)
