"""An authoritative DNS server for one zone file (asyncio, UDP and TCP), reloading the file when
it changes.

dnslib parses the zone and packs answers, but only when a zone version is loaded: every answer
to a (name, type) that exists is packed then, without its ID, RD bit and question. Answering a
query is reading the question's bytes out of the packet, one dict lookup, and splicing the
query's ID, RD bit and question (with the client's letter case) around the prepared bytes. The
question is spliced in with the same length as the prepared one, so name compression pointers
into it stay right. Queries that miss that path (other classes, odd EDNS, unknown names,
malformed packets) are parsed with dnslib and answered from the same version.

A reload builds a whole new `ZoneVersion` off the event loop and installs it with one
assignment on the loop, between two packets: each query is answered from one complete version.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import os
import socket
import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from dnslib import CLASS, EDNS0, QTYPE, RCODE, RR, DNSHeader, DNSLabel, DNSQuestion, DNSRecord

from orchestr.errors import Location, OptionsError, ParseError

POLL_INTERVAL = 0.5
UDP_LIMIT = 512  # RFC 1035: a UDP answer without EDNS
EDNS_LIMIT = 1232  # the DNS flag day 2020 size: no IP fragmentation on common paths
TCP_LIMIT = 65535
TCP_IDLE_TIMEOUT = 10.0  # RFC 7766 suggests seconds, not minutes
CNAME_CHAIN = 8
LAZY_ANSWERS = 4096  # answers packed on demand (odd types, unknown names) kept per version
CLASS_ANY = 255  # dnslib names it "*", not ANY
RCVBUF = 4 << 20  # a burst queued while a reload holds the GIL must not overflow the socket

_PLAIN_COUNTS = b"\x00\x01\x00\x00\x00\x00\x00\x00"  # one question, nothing else
_EDNS_COUNTS = b"\x00\x01\x00\x00\x00\x00\x00\x01"  # one question and the OPT record
_OPT_HEAD = b"\x00\x00\x29"  # root owner name, type OPT

# An answer ready to send but for ID and question: (flags and counts with RD clear, the same
# with RD set, the sections after the question).
Entry = tuple[bytes, bytes, bytes]
Signature = tuple[int, int, int]  # the zone file's (inode, size, mtime in ns)


class ZoneError(ParseError):
    """A zone file that cannot be served."""


@dataclass(frozen=True)
class Variant:
    """How an answer is shaped by the transport: with an OPT record or not, and its size limit."""

    edns: bool
    limit: int


PLAIN = Variant(False, UDP_LIMIT)
EDNS = Variant(True, EDNS_LIMIT)


def name_key(labels: Iterable[bytes]) -> bytes:
    """The lowercase wire form of a name: the key answers are found by."""
    return b"".join(bytes((len(label),)) + label.lower() for label in labels) + b"\x00"


class ZoneVersion:
    """One loaded zone with its answers packed. Never changed once published, but for answers
    packed on first demand, which are the same whenever they are packed."""

    def __init__(self, records: list[RR], source: str = "zone"):
        soas = [r for r in records if r.rtype == QTYPE.SOA]
        if len(soas) != 1:
            raise ZoneError(f"a zone needs exactly one SOA record, found {len(soas)}",
                            location=Location(source))  # fmt: skip
        self.soa = soas[0]
        self.origin = tuple(label.lower() for label in self.soa.rname.label)
        self.serial = int(self.soa.rdata.times[0])
        self.records = len(records)
        self._rrsets: dict[tuple[bytes, ...], dict[int, list[RR]]] = {}
        self._names: set[tuple[bytes, ...]] = {self.origin}  # with empty non-terminals
        for record in records:
            if record.rclass != CLASS.IN:
                raise ZoneError(f"{record.rname}: only class IN is served",
                                location=Location(source))  # fmt: skip
            name = tuple(label.lower() for label in record.rname.label)
            if name[len(name) - len(self.origin) :] != self.origin:
                raise ZoneError(f"{record.rname} is outside the zone {self.soa.rname}",
                                location=Location(source))  # fmt: skip
            self._rrsets.setdefault(name, {}).setdefault(record.rtype, []).append(record)
            for cut in range(len(name) - len(self.origin) + 1):
                self._names.add(name[cut:])
        negative_ttl = min(self.soa.ttl, int(self.soa.rdata.times[4]))  # RFC 2308
        self._negative_soa = RR(self.soa.rname, QTYPE.SOA, ttl=negative_ttl, rdata=self.soa.rdata)
        # The two shapes the UDP fast path uses, packed now; the rest on first demand.
        self.plain: dict[bytes, Entry] = {}
        self.edns: dict[bytes, Entry] = {}
        self._lazy: dict[tuple[Variant, bytes], Entry] = {}
        for name, rrsets in self._rrsets.items():
            for qtype in (*rrsets, QTYPE.ANY):
                key = name_key(name) + struct.pack("!HH", qtype, CLASS.IN)
                self.plain[key] = self._pack(PLAIN, name, qtype, CLASS.IN)
                self.edns[key] = self._pack(EDNS, name, qtype, CLASS.IN)

    @classmethod
    def from_text(cls, text: str, source: str = "zone") -> ZoneVersion:
        try:
            records = RR.fromZone(text)
        except Exception as error:  # noqa: BLE001 - dnslib's parser raises all kinds
            raise ZoneError(f"does not parse as a zone: {type(error).__name__}: {error}",
                            location=Location(source)) from error  # fmt: skip
        return cls(records, source)

    # -- answering ------------------------------------------------------------------------

    def entry(self, variant: Variant, name: tuple[bytes, ...], qtype: int, qclass: int) -> Entry:
        """The prepared answer, packing (and keeping, within limits) one not prepared yet."""
        key = name_key(name) + struct.pack("!HH", qtype, qclass)
        table = self.plain if variant == PLAIN else self.edns if variant == EDNS else None
        found = table.get(key) if table is not None else None
        if found is None:
            found = self._lazy.get((variant, key))
        if found is None:
            found = self._pack(variant, name, qtype, qclass)
            if len(self._lazy) < LAZY_ANSWERS:
                self._lazy[(variant, key)] = found
        return found

    def answer(self, data: bytes, tcp: bool) -> bytes | None:
        """The reply to one query message, the long way (dnslib parses it); None for what
        deserves no reply (a response, a packet too short to carry an ID)."""
        if len(data) < 12 or data[2] & 0x80:
            return None
        opcode = (data[2] >> 3) & 0x0F
        if opcode != 0:
            return _header_only(data, RCODE.NOTIMP)
        try:
            query = DNSRecord.parse(data)
        except Exception:  # noqa: BLE001 - whatever dnslib makes of garbage
            return _header_only(data, RCODE.FORMERR)
        if len(query.questions) != 1:
            return _header_only(data, RCODE.FORMERR)
        opt = next((r for r in query.ar if r.rtype == QTYPE.OPT), None)
        if opt is not None and opt.edns_ver != 0:
            return _badvers(data)
        question = query.q
        name = tuple(label.lower() for label in question.qname.label)
        if tcp:
            variant = Variant(opt is not None, TCP_LIMIT)
        elif opt is None:
            variant = PLAIN
        else:
            variant = EDNS if opt.edns_len >= EDNS_LIMIT else Variant(True, UDP_LIMIT)
        wire = name_key(name)
        end = 12 + len(wire) + 4
        if data[12 : end - 4].lower() != wire:
            # A compressed or otherwise odd question: the reply could not echo it verbatim.
            return _header_only(data, RCODE.FORMERR)
        flags_rd0, flags_rd1, tail = self.entry(variant, name, question.qtype, question.qclass)
        return data[:2] + (flags_rd1 if data[2] & 1 else flags_rd0) + data[12:end] + tail

    def _resolve(self, name: tuple[bytes, ...], qtype: int,
                 qclass: int) -> tuple[int, bool, list[RR], list[RR], list[RR]]:  # fmt: skip
        """rcode, authoritative, answer, authority and additional records."""
        in_zone = name[len(name) - len(self.origin) :] == self.origin
        if not in_zone or qclass not in (CLASS.IN, CLASS_ANY):
            return RCODE.REFUSED, False, [], [], []
        rcode = RCODE.NOERROR if name in self._names else RCODE.NXDOMAIN
        answers: list[RR] = []
        current = name
        for _ in range(CNAME_CHAIN):
            rrsets = self._rrsets.get(current)
            if rrsets is None:
                break
            if qtype == QTYPE.ANY:
                answers += [r for rrset in rrsets.values() for r in rrset]
                break
            if qtype in rrsets:
                answers += rrsets[qtype]
                break
            cname = rrsets.get(QTYPE.CNAME)
            if cname is None:
                break
            answers += cname
            current = tuple(label.lower() for label in cname[0].rdata.label.label)
            if current in self._names:
                continue
            break
        authority = [] if answers else [self._negative_soa]
        additional = []
        for record in answers:
            target = _target(record)
            if target is None:
                continue
            for kind in (QTYPE.A, QTYPE.AAAA):
                for glue in self._rrsets.get(target, {}).get(kind, []):
                    if glue not in additional and glue not in answers:
                        additional.append(glue)
        return rcode, rcode != RCODE.REFUSED, answers, authority, additional

    def _pack(self, variant: Variant, name: tuple[bytes, ...], qtype: int, qclass: int) -> Entry:
        rcode, authoritative, answers, authority, additional = self._resolve(name, qtype, qclass)
        question = DNSQuestion(DNSLabel(list(name)), qtype, qclass)
        opt = [EDNS0(udp_len=EDNS_LIMIT)] if variant.edns else []

        def pack(answers: list[RR], authority: list[RR], additional: list[RR],
                 truncated: bool = False) -> bytes:  # fmt: skip
            header = DNSHeader(id=0, bitmap=0, qr=1, aa=int(authoritative), tc=int(truncated),
                               rcode=rcode)  # fmt: skip
            record = DNSRecord(header, q=question, rr=list(answers), auth=list(authority),
                               ar=[*additional, *opt])  # fmt: skip
            return record.pack()

        packed = pack(answers, authority, additional)
        if len(packed) > variant.limit and additional:
            # Additional records are a courtesy: leave them out before truncating (RFC 2181 9).
            packed = pack(answers, authority, [])
        if len(packed) > variant.limit:
            packed = pack([], [], [], truncated=True)
        end = 12 + len(name_key(name)) + 4
        return packed[2:12], bytes((packed[2] | 0x01,)) + packed[3:12], packed[end:]


def _target(record: RR) -> tuple[bytes, ...] | None:
    """The name a record points at whose addresses a client will ask for next."""
    if record.rtype == QTYPE.SRV:
        label = record.rdata.target
    elif record.rtype in (QTYPE.NS, QTYPE.MX):
        label = record.rdata.label
    else:
        return None
    return tuple(part.lower() for part in label.label)


def _header_only(data: bytes, rcode: int) -> bytes:
    """A reply that is only a header: for queries not understood well enough to echo them."""
    flags = 0x80 | (data[2] & 0x79)  # QR, the query's opcode and RD
    return data[:2] + bytes((flags, rcode)) + b"\x00" * 8


def _badvers(data: bytes) -> bytes:
    """RFC 6891: an EDNS version above 0 gets BADVERS (16: 1 in the OPT's extended rcode)."""
    reply = DNSRecord(DNSHeader(id=int.from_bytes(data[:2], "big"), bitmap=0, qr=1,
                                rd=data[2] & 1))  # fmt: skip
    reply.add_ar(EDNS0(udp_len=EDNS_LIMIT, ext_rcode=1))
    return reply.pack()


# -- loading ----------------------------------------------------------------------------------


def file_signature(path: str) -> Signature | None:
    """What changes when the file is rewritten or replaced; None when it is missing."""
    try:
        status = os.stat(path)
    except OSError:
        return None
    return status.st_ino, status.st_size, status.st_mtime_ns


def load_zone(path: str) -> tuple[ZoneVersion, Signature]:
    """A zone version from the file and the signature of exactly the file read (a rename after
    the read shows as a new signature at the next poll)."""
    try:
        with open(path, "rb") as handle:
            status = os.fstat(handle.fileno())
            text = handle.read().decode("utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ZoneError(
            f"cannot read the zone: {error}",
            location=Location(path),
            hint="write one with `orchestr dns render --output PATH`",
        ) from error
    return ZoneVersion.from_text(text, path), (status.st_ino, status.st_size, status.st_mtime_ns)


# -- transports -------------------------------------------------------------------------------


def _answer(zone: ZoneVersion, data: bytes, tcp: bool) -> bytes | None:
    """The long way, never raising: a query that trips over a bug gets SERVFAIL, not silence
    (a client would retry it until it timed out)."""
    try:
        return zone.answer(data, tcp)
    except Exception:  # noqa: BLE001 - one bad query must not cost the others their answers
        return _header_only(data, RCODE.SERVFAIL) if len(data) >= 12 else None


class _UdpProtocol(asyncio.DatagramProtocol):
    def __init__(self, server: DnsServer):
        self.server = server
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple) -> None:  # type: ignore[type-arg]
        # The hot path: no parsing beyond finding the question's end, no objects but the reply.
        zone = self.server.zone
        end = data.find(0, 12) + 5  # the name's terminating zero, then type and class
        if end > 16 and not data[2] & 0xF8:  # a standard query
            counts = data[4:12]
            entry = None
            if counts == _PLAIN_COUNTS:
                if len(data) == end:
                    entry = zone.plain.get(data[12:end])
            elif (counts == _EDNS_COUNTS and len(data) >= end + 11
                  and data[end:end + 3] == _OPT_HEAD
                  and data[end + 3] * 256 + data[end + 4] >= EDNS_LIMIT and data[end + 6] == 0
                  and len(data) == end + 11 + data[end + 9] * 256 + data[end + 10]):  # fmt: skip
                entry = zone.edns.get(data[12:end])
            if entry is not None:
                self.transport.sendto(data[:2] + entry[data[2] & 1] + data[12:end] + entry[2],
                                      addr)  # fmt: skip
                return
        reply = _answer(zone, data, False)
        if reply is not None:
            self.transport.sendto(reply, addr)

    def error_received(self, exc: Exception) -> None:
        pass  # an ICMP error for an earlier reply: that client is gone, the others are not


class _TcpProtocol(asyncio.Protocol):
    """RFC 7766: messages with a two-byte length prefix, several per connection, pipelined."""

    def __init__(self, server: DnsServer):
        self.server = server
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None
        self.idle: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.server.connections.add(self)
        self._arm()

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while len(self.buffer) >= 2:
            size = int.from_bytes(self.buffer[:2], "big")
            if len(self.buffer) < 2 + size:
                break
            message = bytes(self.buffer[2 : 2 + size])
            del self.buffer[: 2 + size]
            reply = _answer(self.server.zone, message, True)
            if reply is None:
                self.transport.close()
                return
            self.transport.write(len(reply).to_bytes(2, "big") + reply)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.idle is not None:
            self.idle.cancel()
        self.server.connections.discard(self)

    def _arm(self) -> None:
        if self.idle is not None:
            self.idle.cancel()
        self.idle = asyncio.get_running_loop().call_later(TCP_IDLE_TIMEOUT, self.transport.close)


# -- the server -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ListenAddress:
    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def parse_listen(text: str) -> ListenAddress:
    """ADDR:PORT, [IPV6]:PORT; port 0 picks a free one."""
    host, sep, port = text.rpartition(":")
    bracketed = host.startswith("[") and host.endswith("]")
    host = host[1:-1] if bracketed else host
    try:
        version = ipaddress.ip_address(host).version
        number = int(port)
    except ValueError:
        version, number = 0, -1
    # An IPv6 address without brackets is ambiguous: is ::1:53 port 53 of ::1?
    if not sep or not 0 <= number <= 65535 or (version == 6) != bracketed:
        raise OptionsError(f"bad listen address {text!r}",
                           hint="write ADDR:PORT, e.g. 127.0.0.1:5353 or [::1]:5353")  # fmt: skip
    return ListenAddress(host, number)


class DnsServer:
    """Serves the zone file at `path` on UDP and TCP at `listen` until closed, reloading it
    when its (inode, size, mtime) changes. `log` gets one line per load and per problem."""

    def __init__(self, path: str, listen: ListenAddress, *, poll_interval: float = POLL_INTERVAL,
                 log: Callable[[str], None] = print):  # fmt: skip
        self.path = path
        self.listen = listen
        self.poll_interval = poll_interval
        self.log = log
        self.zone: ZoneVersion  # the version every query is answered from
        self.connections: set[_TcpProtocol] = set()
        self._signature: Signature | None = None
        self._udp: asyncio.DatagramTransport | None = None
        self._tcp: asyncio.Server | None = None
        self._watcher: asyncio.Task[None] | None = None

    @property
    def port(self) -> int:
        """The UDP and TCP port (the one picked when asked for port 0)."""
        assert self._udp is not None, "not started"
        return self._udp.get_extra_info("sockname")[1]

    async def start(self) -> None:
        """Load the zone (ZoneError when it cannot be served) and open both sockets."""
        self.zone, self._signature = await asyncio.to_thread(load_zone, self.path)
        self._announce("loaded")
        loop = asyncio.get_running_loop()
        family = socket.AF_INET6 if ":" in self.listen.host else socket.AF_INET
        # Port 0: the kernel picks a free UDP port, which may be taken for TCP; try again then.
        for _ in range(20):
            udp = socket.socket(family, socket.SOCK_DGRAM)
            with contextlib.suppress(OSError):
                udp.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF)
            try:
                udp.bind((self.listen.host, self.listen.port))
                port = udp.getsockname()[1]
                self._tcp = await loop.create_server(lambda: _TcpProtocol(self),
                                                     self.listen.host, port, reuse_address=True,
                                                     family=family)  # fmt: skip
            except OSError:
                udp.close()
                if self.listen.port:
                    raise
                continue
            break
        else:
            raise OSError(f"no port free for both UDP and TCP on {self.listen.host}")
        self._udp, _ = await loop.create_datagram_endpoint(lambda: _UdpProtocol(self), sock=udp)
        self._watcher = asyncio.create_task(self._watch())

    async def close(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
        if self._udp is not None:
            self._udp.close()
        if self._tcp is not None:
            self._tcp.close()
            for connection in list(self.connections):
                connection.transport.close()
            await self._tcp.wait_closed()

    async def reload_if_changed(self) -> bool:
        """One poll: load the file when it changed since the last look. A zone that cannot be
        served leaves the current version in place and is reported once."""
        signature = file_signature(self.path)
        if signature == self._signature:
            return False
        self._signature = signature
        if signature is None:
            self.log(f"zone file {self.path} is gone; still serving serial {self.zone.serial}")
            return False
        try:
            version, self._signature = await asyncio.to_thread(load_zone, self.path)
        except ZoneError as error:
            self.log(f"{error.one_line()}; still serving serial {self.zone.serial}")
            return False
        self.zone = version  # the swap: the next packet is answered from the new version
        self._announce("reloaded")
        return True

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self.poll_interval)
            try:
                await self.reload_if_changed()
            except Exception as error:  # noqa: BLE001 - the server outlives a failed reload
                self.log(f"zone reload failed: {type(error).__name__}: {error}")

    def _announce(self, what: str) -> None:
        zone = self.zone
        self.log(f"zone {zone.soa.rname} {what} from {self.path}: serial {zone.serial}, "
                 f"{zone.records} records")  # fmt: skip
