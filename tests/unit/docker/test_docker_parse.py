"""docker value syntaxes (durations, sizes, ports, volumes) and inspect output, read as docker does."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orchestr.docker.parse import (
    SEPARATOR,
    ParseError,
    PortBinding,
    VolumeSpec,
    bindings_by_port,
    capability,
    env_dict,
    format_duration,
    health_test,
    inspect_one,
    parse_duration,
    parse_port_spec,
    parse_size,
    parse_volume,
    port_bindings,
    sections,
    unexpected_errors,
)

S = 1_000_000_000


@pytest.mark.parametrize(
    ("text", "ns"),
    [
        ("5s", 5 * S),
        ("1m30s", 90 * S),
        ("1h", 3600 * S),
        ("1h2m3s", 3723 * S),
        ("500ms", S // 2),
        ("1.5s", 3 * S // 2),
        ("250us", 250_000),
        ("10ns", 10),
        ("30", 30 * S),
        (30, 30 * S),
        (0.5, S // 2),
        ("0s", 0),
    ],
)
def test_parse_duration(text, ns):
    assert parse_duration(text) == ns


@pytest.mark.parametrize("text", ["", "s", "5x", "1m30", "m5", "5 s", "-5s", True, -1])
def test_parse_duration_rejects(text):
    with pytest.raises(ParseError):
        parse_duration(text)


@pytest.mark.parametrize(
    ("ns", "text"),
    [(90 * S, "90s"), (3600 * S, "1h"), (120 * S, "2m"), (S // 2, "500ms"), (1500, "1500ns"),
     (250_000, "250us"), (0, "0ns")],
)  # fmt: skip
def test_format_duration(ns, text):
    assert format_duration(ns) == text


@given(st.integers(min_value=0, max_value=10**15))
def test_format_duration_reads_back(ns):
    assert parse_duration(format_duration(ns)) == ns


@pytest.mark.parametrize(
    ("text", "size"),
    [("512m", 512 << 20), ("1g", 1 << 30), ("1G", 1 << 30), ("64k", 64 << 10), ("2048", 2048),
     ("512MB", 512 << 20), ("1.5g", 3 << 29), ("7.3m", 7654604), (4096, 4096), ("100b", 100)],
)  # fmt: skip
def test_parse_size(text, size):
    # 7.3m: docker truncates (7654604, measured on dockerd 20.10), it does not round
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "m", "1x", "-1m", "1.2.3m", True])
def test_parse_size_rejects(text):
    with pytest.raises(ParseError):
        parse_size(text)


@pytest.mark.parametrize(
    ("spec", "bindings"),
    [
        ("8080:80", [PortBinding("80/tcp", "", "8080")]),
        ("80", [PortBinding("80/tcp", "", "")]),
        (80, [PortBinding("80/tcp", "", "")]),
        ("127.0.0.1:8080:80", [PortBinding("80/tcp", "127.0.0.1", "8080")]),
        ("127.0.0.1::80", [PortBinding("80/tcp", "127.0.0.1", "")]),
        ("53:53/udp", [PortBinding("53/udp", "", "53")]),
        ("53:53/UDP", [PortBinding("53/udp", "", "53")]),
        ("[::1]:8080:80", [PortBinding("80/tcp", "::1", "8080")]),
        ("[::1]:80", [PortBinding("80/tcp", "::1", "")]),
        (
            "8000-8002:9000-9002/udp",
            [
                PortBinding("9000/udp", "", "8000"),
                PortBinding("9001/udp", "", "8001"),
                PortBinding("9002/udp", "", "8002"),
            ],
        ),  # fmt: skip
        ("8000-8001", [PortBinding("8000/tcp", "", ""), PortBinding("8001/tcp", "", "")]),
        ("8000-8010:80", [PortBinding("80/tcp", "", "8000-8010")]),
    ],
)
def test_parse_port_spec(spec, bindings):
    assert list(parse_port_spec(spec)) == bindings


@pytest.mark.parametrize(
    "spec",
    ["", "80/icmp", "0", "70000", "a:80", "1:2:3:4", "8000-8002:9000-9001", "90-80",
     "[::1:8080:80", "8080:"],
)  # fmt: skip
def test_parse_port_spec_rejects(spec):
    with pytest.raises(ParseError):
        parse_port_spec(spec)


def test_port_bindings_from_inspect_match_the_specs():
    observed = {
        "80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "18080"}, {"HostIp": "", "HostPort": ""}],
        "8000/udp": [{"HostIp": "", "HostPort": "18000"}],
    }
    specs = ["127.0.0.1:18080:80", "80", "18000:8000/udp"]
    assert port_bindings(observed) == bindings_by_port(
        tuple(b for spec in specs for b in parse_port_spec(spec))
    )
    assert port_bindings(None) == {}
    assert port_bindings({"80/tcp": None}) == {"80/tcp": frozenset({("", "")})}


@pytest.mark.parametrize(
    ("spec", "volume", "key"),
    [
        ("/srv:/data", VolumeSpec("/srv", "/data"), "/srv:/data:rw"),
        ("/srv:/data:ro", VolumeSpec("/srv", "/data", "ro"), "/srv:/data:ro"),
        ("named:/data:ro,z", VolumeSpec("named", "/data", "ro,z"), "named:/data:ro,z"),
        ("/anon", VolumeSpec("", "/anon"), "/anon"),
    ],
)
def test_parse_volume(spec, volume, key):
    assert parse_volume(spec) == volume
    assert volume.key == key


@pytest.mark.parametrize("spec", ["", ":/data", "/srv:", "/a:/b:", "/a:/b:ro:x"])
def test_parse_volume_rejects(spec):
    with pytest.raises(ParseError):
        parse_volume(spec)


def test_inspect_one_and_sections():
    out = f'[{{"Id": "abc"}}]\n{SEPARATOR}\n[]\n'
    first, second = sections(out)
    assert inspect_one(first) == {"Id": "abc"}
    assert inspect_one(second) is None
    assert inspect_one("") is None
    with pytest.raises(ParseError):
        inspect_one("Error: not json")


def test_unexpected_errors_keep_all_but_no_such():
    stderr = (
        "Error: No such container: web\n"
        "Error response from daemon: No such image: app:1\n"
        "Cannot connect to the Docker daemon at unix:///var/run/docker.sock\n"
    )
    assert unexpected_errors(stderr) == [
        "Cannot connect to the Docker daemon at unix:///var/run/docker.sock"
    ]
    assert unexpected_errors("Error: No such object: web\n") == []
    assert unexpected_errors("Error response from daemon: network front not found\n") == []
    assert unexpected_errors("sh: 1: docker: not found\n") == ["sh: 1: docker: not found"]


def test_small_readers():
    assert env_dict(["A=1", "B=x=y", "C=", "A=2"]) == {"A": "2", "B": "x=y", "C": ""}
    assert env_dict(None) == {}
    assert capability("net_admin") == capability("CAP_NET_ADMIN") == "CAP_NET_ADMIN"
    assert capability("all") == "ALL"
    assert health_test(["CMD", "curl", "-f", "http://x/a b"]) == "curl -f 'http://x/a b'"
    assert health_test(["CMD-SHELL", "curl -f http://x"]) == "curl -f http://x"
    assert health_test(["NONE"]) == "NONE"
    assert health_test("wget -q x") == "wget -q x"
    assert health_test(None) is None
    assert health_test([]) is None
