"""The DNS zone rendered from hand-made snapshots: which records exist (healthy replicas only,
one A per host, one SRV per replica), every line parses with dnslib (and named-checkzone when
installed), the serial rules (kept while nothing changed, always up when something did), the
atomic write and template errors reported with their place."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner
from dnslib import QTYPE, RR

from orchestr.discovery.snapshot import Endpoint, ServiceEndpoints, Snapshot
from orchestr.discovery.zone import (
    DEFAULT_TEMPLATE,
    next_serial,
    next_zone,
    render_zone,
    write_zone,
    zone_data,
    zone_serial,
)
from orchestr.errors import ParseError

ZONE = "orchestr.internal"
NOW = 1_800_000_000.25


def endpoint(service: str, slot: str, host: str, port: int, *, address: str | None = None,
             weight: int = 100, healthy: bool = True) -> Endpoint:  # fmt: skip
    return Endpoint(service, slot, host, address or HOSTS[host], port, weight, healthy)


def service(name: str, *endpoints: Endpoint) -> ServiceEndpoints:
    return ServiceEndpoints(name, 8080, None, None, tuple(endpoints))


HOSTS = {"web1": "10.0.0.1", "web2": "10.0.0.2", "web3": "10.0.0.3"}


def snapshot(*services: ServiceEndpoints, hosts: dict[str, str] | None = None) -> Snapshot:
    return Snapshot(tuple(services), dict(HOSTS if hosts is None else hosts))


def records(text: str) -> list[RR]:
    return RR.fromZone(text)


def of(text: str, name: str, kind: str) -> list[str]:
    """The rdata of `name`'s records of type `kind`, as zone text, sorted."""
    fqdn = f"{name}.{ZONE}." if name != "@" else f"{ZONE}."
    return sorted(str(r.rdata) for r in records(text)
                  if str(r.rname) == fqdn and QTYPE[r.rtype] == kind)  # fmt: skip


# -- records ----------------------------------------------------------------------------------


def test_no_services_gives_soa_ns_and_host_records() -> None:
    text = render_zone(snapshot(), serial=42)
    parsed = records(text)
    assert Counter(QTYPE[r.rtype] for r in parsed) == {"SOA": 1, "NS": 1, "A": 4}
    assert of(text, "@", "NS") == [f"ns.{ZONE}."]
    assert of(text, "ns", "A") == ["127.0.0.1"]
    assert of(text, "web2", "A") == ["10.0.0.2"]
    assert zone_serial(text) == 42
    soa = next(r for r in parsed if r.rtype == QTYPE.SOA)
    assert str(soa.rname) == f"{ZONE}." and soa.rdata.times[4] == 5


def test_one_service_has_an_a_record_per_host_and_an_srv_per_replica() -> None:
    text = render_zone(snapshot(service("api", endpoint("api", "1", "web1", 30001),
                                        endpoint("api", "2", "web2", 30002, weight=50))))  # fmt: skip
    assert of(text, "api", "A") == ["10.0.0.1", "10.0.0.2"]
    assert of(text, "_api._tcp", "SRV") == [f"10 100 30001 web1.{ZONE}.",
                                            f"10 50 30002 web2.{ZONE}."]  # fmt: skip


def test_two_replicas_on_one_host_give_one_a_record_and_two_srv() -> None:
    text = render_zone(snapshot(service("api", endpoint("api", "1", "web1", 30001),
                                        endpoint("api", "2", "web1", 30002))))  # fmt: skip
    assert of(text, "api", "A") == ["10.0.0.1"]
    assert of(text, "_api._tcp", "SRV") == [f"10 100 30001 web1.{ZONE}.",
                                            f"10 100 30002 web1.{ZONE}."]  # fmt: skip


def test_unhealthy_replicas_are_left_out() -> None:
    text = render_zone(snapshot(
        service("api", endpoint("api", "1", "web1", 30001),
                endpoint("api", "2", "web2", 30001, healthy=False)),
        service("down", endpoint("down", "1", "web3", 30005, healthy=False)),
    ))  # fmt: skip
    assert of(text, "api", "A") == ["10.0.0.1"]
    assert of(text, "_api._tcp", "SRV") == [f"10 100 30001 web1.{ZONE}."]
    # A service without a healthy replica has no records: clients get NXDOMAIN, not a dead
    # address. Its hosts keep their own records.
    assert of(text, "down", "A") == [] and of(text, "_down._tcp", "SRV") == []
    assert of(text, "web3", "A") == ["10.0.0.3"]


def test_fifty_services() -> None:
    services = [service(f"svc{n:02d}", *(endpoint(f"svc{n:02d}", str(r), f"web{r}", 30000 + n)
                                         for r in (1, 2, 3))) for n in range(50)]  # fmt: skip
    text = render_zone(snapshot(*services))
    parsed = records(text)
    kinds = Counter(QTYPE[r.rtype] for r in parsed)
    assert kinds == {"SOA": 1, "NS": 1, "A": 4 + 50 * 3, "SRV": 50 * 3}
    assert of(text, "svc49", "A") == ["10.0.0.1", "10.0.0.2", "10.0.0.3"]
    assert {r.rdata.port for r in parsed if str(r.rname) == f"_svc07._tcp.{ZONE}."} == {30007}


def test_ttl_applies_to_every_record_and_negative_answers() -> None:
    text = render_zone(snapshot(service("api", endpoint("api", "1", "web1", 30001))), ttl=30)
    parsed = records(text)
    assert {r.ttl for r in parsed} == {30}
    assert next(r for r in parsed if r.rtype == QTYPE.SOA).rdata.times[4] == 30
    assert {r.ttl for r in records(render_zone(snapshot()))} == {5}


def test_zone_name_is_normalised() -> None:
    text = render_zone(snapshot(service("api", endpoint("api", "1", "web1", 30001))),
                       zone="Example.TEST.")  # fmt: skip
    assert {str(r.rname) for r in records(text) if r.rtype == QTYPE.SOA} == {"example.test."}
    assert "api.example.test." in {str(r.rname) for r in records(text)}


def test_ipv6_hosts_get_aaaa_and_named_hosts_are_srv_targets_by_name() -> None:
    hosts = {"v6": "fd00::7", "named": "node.example.com"}
    text = render_zone(snapshot(service("api", endpoint("api", "1", "v6", 30001, address="fd00::7"),
                                        endpoint("api", "2", "named", 30002,
                                                 address="node.example.com")),
                                hosts=hosts))  # fmt: skip
    assert of(text, "v6", "AAAA") == ["fd00::7"]
    assert of(text, "api", "AAAA") == ["fd00::7"]
    assert of(text, "api", "A") == []  # a DNS name is no address
    assert of(text, "named", "A") == [] and of(text, "named", "CNAME") == []
    assert of(text, "_api._tcp", "SRV") == [f"10 100 30001 v6.{ZONE}.",
                                            "10 100 30002 node.example.com."]  # fmt: skip


def test_ipv6_nameserver_and_a_bad_one() -> None:
    assert of(render_zone(snapshot(), nameserver="::1"), "ns", "AAAA") == ["::1"]
    with pytest.raises(ValueError, match="nameserver"):
        render_zone(snapshot(), nameserver="dns.example.com")


def test_same_snapshot_in_any_order_gives_the_same_text() -> None:
    a = endpoint("api", "1", "web1", 30001)
    b = endpoint("api", "2", "web2", 30002)
    c = endpoint("api", "3", "web1", 30003)
    assert render_zone(snapshot(service("api", a, b, c))) == \
        render_zone(snapshot(service("api", c, b, a)))  # fmt: skip


def test_the_template_gets_plain_data() -> None:
    data = zone_data(snapshot(service("api", endpoint("api", "1", "web1", 30001))),
                     ZONE, 5, 9, "127.0.0.1")  # fmt: skip
    assert data["services"] == [{"name": "api", "addresses": [{"type": "A", "address": "10.0.0.1"}],
                                 "srv": [{"priority": 10, "weight": 100, "port": 30001,
                                          "target": f"web1.{ZONE}."}]}]  # fmt: skip
    assert data["nameserver"] == {"name": "ns", "type": "A", "address": "127.0.0.1"}


@pytest.mark.skipif(shutil.which("named-checkzone") is None, reason="bind9-utils not installed")
def test_named_checkzone_accepts_the_zone(tmp_path: Path) -> None:
    services = [service(f"svc{n}", endpoint(f"svc{n}", "1", "web1", 30000 + n),
                        endpoint(f"svc{n}", "2", "web2", 31000 + n, healthy=n % 2 == 0))
                for n in range(10)]  # fmt: skip
    path = tmp_path / "zone.db"
    path.write_text(render_zone(snapshot(*services), serial=2026112201))
    result = subprocess.run(["named-checkzone", ZONE, str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "loaded serial 2026112201" in result.stdout


# -- serial -----------------------------------------------------------------------------------


def test_next_serial_is_the_time_unless_that_is_not_higher() -> None:
    assert next_serial(None, NOW) == int(NOW)
    assert next_serial(5, NOW) == int(NOW)
    assert next_serial(int(NOW), NOW) == int(NOW) + 1  # a second change within the second
    assert next_serial(int(NOW) + 100, NOW) == int(NOW) + 101  # the clock went back
    serials = [None]
    for _ in range(5):  # five changes in one second: still increasing
        serials.append(next_serial(serials[-1], NOW))
    assert serials[1:] == list(range(int(NOW), int(NOW) + 5))


def test_next_serial_reads_the_previous_zone() -> None:
    previous = render_zone(snapshot(), serial=int(NOW) + 3)
    assert next_serial(previous, NOW) == int(NOW) + 4
    assert next_serial("not a zone (", NOW) == int(NOW)
    assert zone_serial("not a zone (") is None
    assert zone_serial("") is None


def test_unchanged_records_keep_the_serial_and_the_text() -> None:
    snap = snapshot(service("api", endpoint("api", "1", "web1", 30001)))
    first = next_zone(snap, None, NOW)
    assert zone_serial(first) == int(NOW)
    again = next_zone(snap, first, NOW + 3600)
    assert again == first


def test_changed_records_raise_the_serial_even_within_a_second() -> None:
    one = snapshot(service("api", endpoint("api", "1", "web1", 30001)))
    two = snapshot(service("api", endpoint("api", "1", "web1", 30001),
                           endpoint("api", "2", "web2", 30002)))  # fmt: skip
    first = next_zone(one, None, NOW)
    second = next_zone(two, first, NOW)
    third = next_zone(one, second, NOW)
    assert [zone_serial(t) for t in (first, second, third)] == [int(NOW), int(NOW) + 1,
                                                                int(NOW) + 2]  # fmt: skip
    assert of(third, "api", "A") == ["10.0.0.1"]


def test_a_health_change_is_a_change() -> None:
    healthy = snapshot(service("api", endpoint("api", "1", "web1", 30001)))
    sick = snapshot(service("api", endpoint("api", "1", "web1", 30001, healthy=False)))
    first = next_zone(healthy, None, NOW)
    assert zone_serial(next_zone(sick, first, NOW + 1)) == int(NOW) + 1


def test_options_change_is_a_change() -> None:
    first = next_zone(snapshot(), None, NOW)
    assert zone_serial(next_zone(snapshot(), first, NOW, ttl=60)) == int(NOW) + 1


# -- files ------------------------------------------------------------------------------------


def test_write_zone_replaces_the_file_atomically(tmp_path: Path) -> None:
    path = tmp_path / "zone.db"
    path.write_text("old\n")
    before = os.stat(path).st_ino
    write_zone(path, "new\n")
    assert path.read_text() == "new\n"
    assert os.stat(path).st_ino != before  # a new file renamed over: readers see old or new
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o644
    assert sorted(p.name for p in tmp_path.iterdir()) == ["zone.db"]


def test_a_custom_template(tmp_path: Path) -> None:
    template = tmp_path / "mine.j2"
    template.write_text("$ORIGIN {{ zone }}.\n@ {{ ttl }} IN SOA ns hm {{ serial }} 1 1 1 1\n"
                        "{% for s in services %}{{ s.name }} IN TXT \"{{ s.srv|length }}\"\n"
                        "{% endfor %}")  # fmt: skip
    text = render_zone(snapshot(service("api", endpoint("api", "1", "web1", 30001))),
                       serial=7, template_path=template)  # fmt: skip
    assert zone_serial(text) == 7
    assert of(text, "api", "TXT") == ['"1"']


def test_template_mistakes_are_parse_errors_with_their_place(tmp_path: Path) -> None:
    broken = tmp_path / "broken.j2"
    broken.write_text("$ORIGIN {{ zone }}.\n{% for x in %}\n")
    with pytest.raises(ParseError) as error:
        render_zone(snapshot(), template_path=broken)
    assert str(error.value.location) == f"{broken}:2"
    undefined = tmp_path / "undefined.j2"
    undefined.write_text("{{ zone }} {{ no_such_variable }}\n")
    with pytest.raises(ParseError, match="no_such_variable"):
        render_zone(snapshot(), template_path=undefined)
    with pytest.raises(ParseError, match="cannot read"):
        render_zone(snapshot(), template_path=tmp_path / "missing.j2")


def test_the_default_template_is_the_repositorys() -> None:
    assert Path(__file__).resolve().parents[3] / "templates" / "zone.j2" == DEFAULT_TEMPLATE
    assert DEFAULT_TEMPLATE.is_file()


def test_render_command_keeps_the_serial_of_an_unchanged_zone(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    from orchestr.discovery.dns_cli import dns

    monkeypatch.setenv("ORCHESTR_STORE", str(tmp_path / "store.db"))  # empty: no services
    output = tmp_path / "zone.db"
    runner = CliRunner()
    first = runner.invoke(dns, ["render", "--ttl", "9", "--output", str(output)])
    assert first.exit_code == 0, first.output
    text = output.read_text()
    assert {r.ttl for r in records(text)} == {9}
    second = runner.invoke(dns, ["render", "--ttl", "9", "--output", str(output)])
    assert second.exit_code == 0 and "unchanged" in second.output
    assert output.read_text() == text
    third = runner.invoke(dns, ["render", "--ttl", "10", "--output", str(output)])
    assert third.exit_code == 0 and "written" in third.output
    assert zone_serial(output.read_text()) > zone_serial(text)
    printed = runner.invoke(dns, ["render", "--zone", "lab.test"])
    assert printed.exit_code == 0 and "$ORIGIN lab.test." in printed.output


def test_render_command_prints_only_the_zone_on_stdout(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    """The snapshot comes from the live cluster (faked here); the cluster's progress lines go
    to stderr so `orchestr dns render > zone.db` stays a zone."""
    import click

    from orchestr.cluster import cli as cluster_cli
    from orchestr.discovery import live
    from orchestr.discovery.dns_cli import dns

    wanted = snapshot(service("api", endpoint("api", "1", "web1", 30001)))

    def fake_with_cluster(flags, store, work, publish=True):  # noqa: ANN001, ANN202
        import asyncio

        click.echo("  observing web1")  # as Cluster(log=...) does
        return asyncio.run(work(object()))

    async def fake_snapshot(cluster):  # noqa: ANN001, ANN202
        return wanted

    monkeypatch.setenv("ORCHESTR_STORE", str(tmp_path / "store.db"))
    monkeypatch.setattr(cluster_cli, "_with_cluster", fake_with_cluster)
    monkeypatch.setattr(live, "current_snapshot", fake_snapshot)
    result = CliRunner().invoke(dns, ["render", "--zone", ZONE])
    assert result.exit_code == 0, result.output
    assert "observing web1" in result.stderr and "observing" not in result.stdout
    assert of(result.stdout, "api", "A") == ["10.0.0.1"]
    assert of(result.stdout, "_api._tcp", "SRV") == [f"10 100 30001 web1.{ZONE}."]
