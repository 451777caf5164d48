"""The DNS server in-process on an ephemeral port, asked with dnslib over UDP and TCP and with
the real `dig`: answers, RCODEs, flags, letter case, EDNS, truncation, malformed packets, and
reloads (a client firing queries all along sees the complete old or the complete new records,
and every query is answered). The command itself is run once as a process, stopped by SIGTERM."""

from __future__ import annotations

import asyncio
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from dnslib import EDNS0, QTYPE, RCODE, DNSRecord

from orchestr.discovery.dns_server import (
    DnsServer,
    ListenAddress,
    ZoneError,
    ZoneVersion,
    parse_listen,
)
from orchestr.discovery.snapshot import Endpoint, ServiceEndpoints, Snapshot
from orchestr.discovery.zone import render_zone, write_zone
from orchestr.errors import OptionsError

ZONE = "orchestr.internal"
HOSTS = {"web1": "10.0.0.1", "web2": "10.0.0.2", "web3": "10.0.0.3"}


def zone_text(serial: int, api_hosts: tuple[str, ...] = ("web1", "web2"), ttl: int = 5) -> str:
    endpoints = tuple(Endpoint("api", str(n), host, HOSTS[host], 30000 + n)
                      for n, host in enumerate(api_hosts, 1))  # fmt: skip
    db = ServiceEndpoints("db", 5432, None, None, (Endpoint("db", "1", "web3", "10.0.0.3", 31000),))
    snapshot = Snapshot((ServiceEndpoints("api", 8080, None, None, endpoints), db), HOSTS)
    return render_zone(snapshot, serial=serial, ttl=ttl)


@dataclass
class Served:
    """A server running on its own event loop in a thread, as `orchestr dns serve` runs."""

    server: DnsServer
    path: Path
    loop: asyncio.AbstractEventLoop
    lines: list[str] = field(default_factory=list)

    @property
    def port(self) -> int:
        return self.server.port

    def call(self, coroutine, timeout: float = 10.0):  # noqa: ANN001, ANN201
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    path = tmp_path / "zone.db"
    write_zone(path, zone_text(100))
    lines: list[str] = []
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    server = DnsServer(str(path), ListenAddress("127.0.0.1", 0), poll_interval=0.05,
                       log=lines.append)  # fmt: skip
    result = Served(server, path, loop, lines)
    result.call(server.start())
    try:
        yield result
    finally:
        result.call(server.close())
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()


def ask(port: int, name: str, kind: str = "A", *, tcp: bool = False, edns: bool = False,
        timeout: float = 3.0) -> DNSRecord:  # fmt: skip
    query = DNSRecord.question(name, kind)
    if edns:
        query.add_ar(EDNS0(udp_len=1232))
    reply = DNSRecord.parse(query.send("127.0.0.1", port, tcp=tcp, timeout=timeout))
    assert reply.header.id == query.header.id
    return reply


def rdatas(reply: DNSRecord, kind: str) -> set[str]:
    return {str(r.rdata) for r in reply.rr if QTYPE[r.rtype] == kind}


def udp_exchange(port: int, packet: bytes, timeout: float = 1.0) -> bytes | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        sock.sendto(packet, ("127.0.0.1", port))
        try:
            return sock.recv(65535)
        except TimeoutError:
            return None


def wait_for(predicate, timeout: float = 5.0) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


# -- answers ------------------------------------------------------------------------------------


@pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp"])
def test_a_record_of_a_service(served: Served, tcp: bool) -> None:
    reply = ask(served.port, f"api.{ZONE}", tcp=tcp)
    assert reply.header.rcode == RCODE.NOERROR
    assert reply.header.aa == 1 and reply.header.qr == 1 and reply.header.tc == 0
    assert rdatas(reply, "A") == {"10.0.0.1", "10.0.0.2"}
    assert {r.ttl for r in reply.rr} == {5}
    assert str(reply.q.qname) == f"api.{ZONE}." and reply.q.qtype == QTYPE.A


@pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp"])
def test_srv_records_with_their_targets_addresses(served: Served, tcp: bool) -> None:
    reply = ask(served.port, f"_api._tcp.{ZONE}", "SRV", tcp=tcp)
    assert rdatas(reply, "SRV") == {f"10 100 30001 web1.{ZONE}.", f"10 100 30002 web2.{ZONE}."}
    assert {(str(r.rname), str(r.rdata)) for r in reply.ar} == {
        (f"web1.{ZONE}.", "10.0.0.1"),
        (f"web2.{ZONE}.", "10.0.0.2"),
    }


def test_soa_ns_and_any(served: Served) -> None:
    soa = ask(served.port, ZONE, "SOA")
    assert [r.rdata.times[0] for r in soa.rr] == [100]
    ns = ask(served.port, ZONE, "NS")
    assert rdatas(ns, "NS") == {f"ns.{ZONE}."}
    assert {str(r.rdata) for r in ns.ar} == {"127.0.0.1"}
    any_ = ask(served.port, ZONE, "ANY")
    assert {QTYPE[r.rtype] for r in any_.rr} == {"SOA", "NS"}
    assert rdatas(ask(served.port, f"web3.{ZONE}", "ANY"), "A") == {"10.0.0.3"}


def test_unknown_name_is_nxdomain_with_the_soa(served: Served) -> None:
    reply = ask(served.port, f"nope.{ZONE}")
    assert reply.header.rcode == RCODE.NXDOMAIN and reply.header.aa == 1
    assert reply.rr == []
    assert [QTYPE[r.rtype] for r in reply.auth] == ["SOA"]
    assert reply.auth[0].ttl == 5  # RFC 2308: min(SOA TTL, SOA minimum)


def test_known_name_other_type_is_nodata(served: Served) -> None:
    for name, kind in ((f"api.{ZONE}", "AAAA"), (f"api.{ZONE}", "TXT"), (f"_tcp.{ZONE}", "A")):
        reply = ask(served.port, name, kind)  # _tcp.ZONE: an empty non-terminal, it exists
        assert reply.header.rcode == RCODE.NOERROR, name
        assert reply.rr == [] and [QTYPE[r.rtype] for r in reply.auth] == ["SOA"]


def test_names_outside_the_zone_are_refused(served: Served) -> None:
    for name in ("example.com", "internal", "orchestr.internal.evil.com"):
        reply = ask(served.port, name)
        assert reply.header.rcode == RCODE.REFUSED and reply.header.aa == 0
        assert reply.rr == [] and reply.auth == []


def test_names_are_case_insensitive_and_the_question_is_echoed(served: Served) -> None:
    reply = ask(served.port, "ApI.OrChEsTr.InTeRnAl")
    assert rdatas(reply, "A") == {"10.0.0.1", "10.0.0.2"}
    assert reply.q.qname.label == (b"ApI", b"OrChEsTr", b"InTeRnAl")  # 0x20 clients check it
    assert ask(served.port, "NOPE.ORCHESTR.INTERNAL").header.rcode == RCODE.NXDOMAIN


def test_rd_is_copied_and_ra_not_set(served: Served) -> None:
    query = DNSRecord.question(f"api.{ZONE}")
    for rd in (0, 1):
        query.header.rd = rd
        reply = DNSRecord.parse(udp_exchange(served.port, query.pack()))
        assert reply.header.rd == rd and reply.header.ra == 0


@pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp"])
def test_edns_queries_get_an_opt_record(served: Served, tcp: bool) -> None:
    reply = ask(served.port, f"api.{ZONE}", edns=True, tcp=tcp)
    assert rdatas(reply, "A") == {"10.0.0.1", "10.0.0.2"}
    assert [r.edns_len for r in reply.ar if r.rtype == QTYPE.OPT] == [1232]
    plain = ask(served.port, f"api.{ZONE}")
    assert all(r.rtype != QTYPE.OPT for r in plain.ar)


def test_edns_version_above_zero_is_badvers(served: Served) -> None:
    query = DNSRecord.question(f"api.{ZONE}")
    query.add_ar(EDNS0(udp_len=1232, version=1))
    reply = DNSRecord.parse(udp_exchange(served.port, query.pack()))
    opt = [r for r in reply.ar if r.rtype == QTYPE.OPT]
    assert reply.rr == [] and len(opt) == 1 and opt[0].edns_rcode == 1  # 16 = BADVERS


def test_big_answers_are_truncated_over_udp_and_whole_over_tcp(tmp_path: Path) -> None:
    many = "\n".join(f"big IN A 10.1.{n // 250}.{n % 250 + 1}" for n in range(60))
    text = f"$ORIGIN {ZONE}.\n$TTL 5\n@ IN SOA ns hm 1 60 30 3600 5\n{many}\n"
    zone = ZoneVersion.from_text(text)
    query = DNSRecord.question(f"big.{ZONE}")
    udp = DNSRecord.parse(zone.answer(query.pack(), tcp=False))
    assert udp.header.tc == 1 and udp.rr == []
    query.add_ar(EDNS0(udp_len=4096))
    edns = DNSRecord.parse(zone.answer(query.pack(), tcp=False))
    assert edns.header.tc == 0 and len(edns.rr) == 60  # 60 A records fit in 1232 bytes
    tcp = DNSRecord.parse(zone.answer(DNSRecord.question(f"big.{ZONE}").pack(), tcp=True))
    assert tcp.header.tc == 0 and len(tcp.rr) == 60


def test_additional_records_are_dropped_before_truncating() -> None:
    srv = "\n".join(f"_x._tcp IN SRV 10 100 {30000 + n} h{n}" for n in range(14))
    hosts = "\n".join(f"h{n} IN A 10.2.0.{n + 1}" for n in range(14))
    zone = ZoneVersion.from_text(
        f"$ORIGIN {ZONE}.\n@ 5 IN SOA ns hm 1 60 30 3600 5\n{srv}\n{hosts}\n"
    )
    reply = DNSRecord.parse(zone.answer(DNSRecord.question(f"_x._tcp.{ZONE}", "SRV").pack(), False))
    assert reply.header.tc == 0 and len(reply.rr) == 14 and reply.ar == []


def test_cname_is_followed_inside_the_zone() -> None:
    zone = ZoneVersion.from_text(
        f"$ORIGIN {ZONE}.\n@ 5 IN SOA ns hm 1 60 30 3600 5\nalias IN CNAME api\napi IN A 10.0.0.9\n"
    )
    reply = DNSRecord.parse(zone.answer(DNSRecord.question(f"alias.{ZONE}").pack(), False))
    assert [QTYPE[r.rtype] for r in reply.rr] == ["CNAME", "A"]


def test_malformed_and_odd_packets(served: Served) -> None:
    assert udp_exchange(served.port, b"\x12\x34\x01", timeout=0.3) is None  # no ID to answer to
    garbage = udp_exchange(served.port, b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x07abc")
    assert garbage is not None and garbage[:2] == b"\x12\x34" and garbage[3] & 0x0F == RCODE.FORMERR
    query = DNSRecord.question(f"api.{ZONE}")
    query.header.opcode = 2  # STATUS
    status = DNSRecord.parse(udp_exchange(served.port, query.pack()))
    assert status.header.rcode == RCODE.NOTIMP
    pointer = b"\x12\x35\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\xc0\x02\x00\x01\x00\x01"
    compressed = udp_exchange(served.port, pointer)  # a question that is a pointer backwards
    assert compressed is None or compressed[3] & 0x0F == RCODE.FORMERR
    cut = DNSRecord.question(f"api.{ZONE}")
    cut.add_ar(EDNS0(udp_len=1232))
    short_opt = udp_exchange(served.port, cut.pack()[:-4])  # the OPT record cut short
    assert short_opt is not None and short_opt[3] & 0x0F == RCODE.FORMERR
    response = DNSRecord.question(f"api.{ZONE}").reply().pack()
    assert udp_exchange(served.port, response, timeout=0.3) is None  # never answer an answer
    assert rdatas(ask(served.port, f"api.{ZONE}"), "A")  # still serving


def test_a_failing_answer_is_servfail_not_silence(served: Served,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    def broken(data: bytes, tcp: bool) -> bytes:
        raise RuntimeError("a bug")

    monkeypatch.setattr(served.server.zone, "answer", broken)
    assert ask(served.port, f"nope.{ZONE}").header.rcode == RCODE.SERVFAIL  # the long way
    assert ask(served.port, f"nope.{ZONE}", tcp=True).header.rcode == RCODE.SERVFAIL
    assert rdatas(ask(served.port, f"api.{ZONE}"), "A")  # prepared answers are unaffected


def test_tcp_carries_several_queries_per_connection(served: Served) -> None:
    queries = [DNSRecord.question(f"api.{ZONE}"), DNSRecord.question(f"_api._tcp.{ZONE}", "SRV"),
               DNSRecord.question(f"nope.{ZONE}")]  # fmt: skip
    wire = b"".join(struct.pack("!H", len(q.pack())) + q.pack() for q in queries)
    with socket.create_connection(("127.0.0.1", served.port), timeout=3) as sock:
        sock.sendall(wire[:7])  # a message split across segments
        time.sleep(0.05)
        sock.sendall(wire[7:])
        replies = []
        buffer = b""
        while len(replies) < 3:
            buffer += sock.recv(65535)
            while len(buffer) >= 2 and len(buffer) >= 2 + int.from_bytes(buffer[:2], "big"):
                size = int.from_bytes(buffer[:2], "big")
                replies.append(DNSRecord.parse(buffer[2 : 2 + size]))
                buffer = buffer[2 + size :]
    assert [r.header.id for r in replies] == [q.header.id for q in queries]
    assert [r.header.rcode for r in replies] == [RCODE.NOERROR, RCODE.NOERROR, RCODE.NXDOMAIN]


@pytest.mark.skipif(shutil.which("dig") is None, reason="dig (dnsutils) not installed")
def test_dig(served: Served) -> None:
    def dig(*words: str) -> str:
        argv = ["dig", "@127.0.0.1", "-p", str(served.port), *words, "+short", "+tries=1"]
        return subprocess.run(argv, capture_output=True, text=True, timeout=10, check=True).stdout

    assert set(dig(f"api.{ZONE}", "A").split()) == {"10.0.0.1", "10.0.0.2"}
    assert set(dig(f"api.{ZONE}", "A", "+tcp").split()) == {"10.0.0.1", "10.0.0.2"}
    assert set(dig(f"API.{ZONE}", "A", "+noedns").split()) == {"10.0.0.1", "10.0.0.2"}
    assert set(dig(f"_api._tcp.{ZONE}", "SRV").splitlines()) == {
        f"10 100 30001 web1.{ZONE}.",
        f"10 100 30002 web2.{ZONE}.",
    }
    assert dig(f"nope.{ZONE}", "A") == ""
    status = subprocess.run(["dig", "@127.0.0.1", "-p", str(served.port), f"nope.{ZONE}"],
                            capture_output=True, text=True, timeout=10).stdout  # fmt: skip
    assert "status: NXDOMAIN" in status and " aa" in status


# -- reloads ------------------------------------------------------------------------------------


def test_reload_while_queried_gives_complete_old_or_new_answers(served: Served) -> None:
    versions = [{"10.0.0.1", "10.0.0.2"}, {"10.0.0.3"}, {"10.0.0.1", "10.0.0.2", "10.0.0.3"}]
    hosts = [("web1", "web2"), ("web3",), ("web1", "web2", "web3")]
    seen: list[tuple[int, frozenset[str]]] = []
    failures: list[str] = []
    stop = threading.Event()

    def fire() -> None:
        # One socket, one query at a time, ids checked: a lost query is a timeout, not a guess.
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.settimeout(2.0)
            while not stop.is_set():
                for kind in ("A", "SOA"):
                    query = DNSRecord.question(f"api.{ZONE}" if kind == "A" else ZONE, kind)
                    sock.sendto(query.pack(), ("127.0.0.1", served.port))
                    try:
                        reply = DNSRecord.parse(sock.recv(4096))
                    except TimeoutError:
                        failures.append(f"lost {kind} query {query.header.id}")
                        continue
                    if reply.header.id != query.header.id:
                        failures.append(f"reply {reply.header.id} to {query.header.id}")
                    elif kind == "A":
                        seen.append((0, frozenset(str(r.rdata) for r in reply.rr)))
                    else:
                        seen.append((1, frozenset(str(r.rdata.times[0]) for r in reply.rr)))

    client = threading.Thread(target=fire)
    client.start()
    try:
        for round_ in range(1, 7):
            time.sleep(0.15)
            write_zone(served.path, zone_text(100 + round_, hosts[round_ % 3]))
            wait_for(lambda round_=round_: served.server.zone.serial == 100 + round_)
        time.sleep(0.15)
    finally:
        stop.set()
        client.join(10)
    assert failures == []
    answers = {answer for kind, answer in seen if kind == 0}
    assert answers <= {frozenset(v) for v in versions}, answers
    assert len(answers) == 3  # every version was seen
    serials = {answer for kind, answer in seen if kind == 1}
    assert serials <= {frozenset({str(n)}) for n in range(100, 107)}
    assert sum(1 for line in served.lines if "reloaded" in line) == 6


def test_a_bad_zone_keeps_the_old_one_served_and_is_reported_once(served: Served) -> None:
    # Written atomically: a file caught half-written would be one more (correct) report.
    write_zone(served.path, "$ORIGIN orchestr.internal.\napi IN A\n")
    wait_for(lambda: len(served.lines) == 2)
    time.sleep(0.3)  # several more polls of the same bad file
    assert len(served.lines) == 2, served.lines
    assert "does not parse" in served.lines[1] and "still serving serial 100" in served.lines[1]
    assert served.lines[1].startswith(str(served.path))
    assert rdatas(ask(served.port, f"api.{ZONE}"), "A") == {"10.0.0.1", "10.0.0.2"}
    write_zone(served.path, "$ORIGIN orchestr.internal.\napi IN A 10.9.9.9\n")  # no SOA
    wait_for(lambda: len(served.lines) == 3)
    assert "exactly one SOA" in served.lines[2]
    write_zone(served.path, zone_text(101, ("web3",)))
    wait_for(lambda: served.server.zone.serial == 101)
    assert "reloaded" in served.lines[3] and "serial 101" in served.lines[3]
    assert rdatas(ask(served.port, f"api.{ZONE}"), "A") == {"10.0.0.3"}


def test_a_missing_zone_file_keeps_the_old_one_served(served: Served) -> None:
    served.path.unlink()
    wait_for(lambda: len(served.lines) == 2)
    assert "is gone" in served.lines[-1]
    assert rdatas(ask(served.port, f"api.{ZONE}"), "A") == {"10.0.0.1", "10.0.0.2"}
    write_zone(served.path, zone_text(100))  # back, same serial: loaded again all the same
    wait_for(lambda: len(served.lines) == 3)
    assert "reloaded" in served.lines[-1]


def test_zones_that_cannot_be_served() -> None:
    with pytest.raises(ZoneError, match="exactly one SOA"):
        ZoneVersion.from_text(f"$ORIGIN {ZONE}.\napi IN A 10.0.0.1\n")
    with pytest.raises(ZoneError, match="outside the zone"):
        ZoneVersion.from_text(
            f"$ORIGIN {ZONE}.\n@ IN SOA ns hm 1 2 3 4 5\nx.example.com. IN A 1.2.3.4\n"
        )
    with pytest.raises(ZoneError, match="does not parse"):
        ZoneVersion.from_text(f"$ORIGIN {ZONE}.\n@ IN SOA ns hm 1 2 3 4 5\napi IN BOGUS 1\n")


def test_parse_listen() -> None:
    assert parse_listen("127.0.0.1:5353") == ListenAddress("127.0.0.1", 5353)
    assert parse_listen("[::1]:53") == ListenAddress("::1", 53)
    assert str(parse_listen("[::1]:53")) == "[::1]:53"
    for bad in ("127.0.0.1", "localhost:53", "1.2.3.4:99999", ":53", "::1:53", "[127.0.0.1]:53"):
        with pytest.raises(OptionsError):
            parse_listen(bad)


# -- the command --------------------------------------------------------------------------------


def test_serve_command_answers_and_stops_on_sigterm(tmp_path: Path) -> None:
    path = tmp_path / "zone.db"
    write_zone(path, zone_text(100))
    argv = [sys.executable, "-c", "from orchestr.cli import main; main()", "dns", "serve",
            "--zone-file", str(path), "--listen", "127.0.0.1:0"]  # fmt: skip
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        loaded = process.stdout.readline()
        listening = process.stdout.readline()
        assert "serial 100" in loaded and "records" in loaded, loaded
        port = int(listening.split(":")[-1].split()[0])
        assert rdatas(ask(port, f"api.{ZONE}"), "A") == {"10.0.0.1", "10.0.0.2"}
        process.send_signal(signal.SIGTERM)
        assert process.wait(10) == 0
        assert process.stdout.read().strip() == "stopped"
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
