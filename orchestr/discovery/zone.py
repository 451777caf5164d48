"""The DNS zone (pure, but for `write_zone`): the discovery snapshot rendered through
templates/zone.j2 into a BIND-style zone file, and the SOA serial rules: a zone whose records did
not change keeps its serial, one that changed gets a higher one."""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from typing import Any

from orchestr.discovery.snapshot import Snapshot
from orchestr.errors import Location, ParseError
from orchestr.files import replace_file

DEFAULT_ZONE = "orchestr.internal"
DEFAULT_TTL = 5
DEFAULT_TEMPLATE = Path(__file__).resolve().parents[2] / "templates" / "zone.j2"
NAMESERVER_LABEL = "ns"
SRV_PRIORITY = 10
SERIAL_MAX = 2**32 - 1  # RFC 1035: the serial is an unsigned 32-bit number


def render_zone(snapshot: Snapshot, zone: str = DEFAULT_ZONE, ttl: int = DEFAULT_TTL,
                serial: int = 1, template_path: str | os.PathLike[str] | None = None,
                nameserver: str = "127.0.0.1") -> str:  # fmt: skip
    """The zone text for `snapshot`. `nameserver` is the address the zone's NS record names
    (where `orchestr dns serve` listens for clients). Unhealthy endpoints are left out."""
    import jinja2

    if ttl < 0:
        raise ValueError(f"ttl must not be negative, got {ttl}")
    if not 0 <= serial <= SERIAL_MAX:
        raise ValueError(f"serial must fit 32 bits, got {serial}")
    path = Path(template_path) if template_path is not None else DEFAULT_TEMPLATE
    data = zone_data(snapshot, zone, ttl, serial, nameserver)
    environment = jinja2.Environment(undefined=jinja2.StrictUndefined, trim_blocks=True,
                                     lstrip_blocks=True, keep_trailing_newline=True,
                                     autoescape=False)  # fmt: skip
    try:
        template = environment.from_string(path.read_text(encoding="utf-8"))
        return template.render(data)
    except OSError as error:
        raise ParseError(f"cannot read the zone template: {error.strerror or error}",
                         location=Location(str(path))) from error  # fmt: skip
    except jinja2.TemplateSyntaxError as error:
        raise ParseError(f"zone template: {error.message}",
                         location=Location(str(path), error.lineno or 0)) from error  # fmt: skip
    except jinja2.TemplateError as error:
        raise ParseError(f"zone template: {error}", location=Location(str(path)),
                         hint="variables: zone, ttl, serial, nameserver, hosts, services "
                              "(see templates/zone.j2)") from error  # fmt: skip


def zone_data(snapshot: Snapshot, zone: str, ttl: int, serial: int,
              nameserver: str) -> dict[str, Any]:  # fmt: skip
    """The template's variables (see templates/zone.j2), sorted so equal snapshots give equal
    text whatever order replicas were observed in."""
    zone = zone.strip().rstrip(".").lower()
    ns_type = _address_type(nameserver)
    if ns_type is None:
        raise ValueError(f"the nameserver must be an IP address, got {nameserver!r}")
    hosts = []
    targets: dict[str, str] = {}  # inventory name -> SRV target
    for name, address in sorted(snapshot.hosts.items()):
        kind = _address_type(address)
        if kind is None:
            # A host reached by a DNS name gets no record here (a CNAME may not be an SRV
            # target, RFC 2782): its SRV records point at that name instead.
            targets[name] = address.rstrip(".") + "."
        else:
            hosts.append({"name": name, "type": kind, "address": address})
            targets[name] = f"{name}.{zone}."
    services = []
    for service in snapshot.services:
        healthy = service.healthy
        addresses = sorted({(kind, e.address) for e in healthy
                            if (kind := _address_type(e.address)) is not None})  # fmt: skip
        srv = sorted({(e.weight, e.port, targets.get(e.host) or f"{e.host}.{zone}.")
                      for e in healthy}, key=lambda r: (r[2], r[1], r[0]))  # fmt: skip
        services.append({
            "name": service.name,
            "addresses": [{"type": kind, "address": address} for kind, address in addresses],
            "srv": [{"priority": SRV_PRIORITY, "weight": weight, "port": port, "target": target}
                    for weight, port, target in srv],
        })  # fmt: skip
    return {
        "zone": zone,
        "ttl": ttl,
        "serial": serial,
        "nameserver": {"name": NAMESERVER_LABEL, "type": ns_type, "address": nameserver},
        "hosts": hosts,
        "services": services,
    }


def _address_type(address: str) -> str | None:
    """A or AAAA for an IP address, None for a DNS name."""
    try:
        return "A" if ipaddress.ip_address(address).version == 4 else "AAAA"
    except ValueError:
        return None


def zone_serial(text: str) -> int | None:
    """The SOA serial of a zone's text; None when it has no SOA or does not parse."""
    from dnslib import QTYPE, RR

    try:
        records = RR.fromZone(text)
    except Exception:  # noqa: BLE001 - dnslib raises anything from ValueError to IndexError
        return None
    return next((int(r.rdata.times[0]) for r in records if r.rtype == QTYPE.SOA), None)


def next_serial(previous: str | int | None, now: float) -> int:
    """A serial higher than `previous` (a serial or the previous zone's text): the time in
    seconds since the epoch, or one more than `previous` when that is not higher (several
    changes within one second, or a clock set back). Secondaries only take a zone whose serial
    went up."""
    if isinstance(previous, str):
        previous = zone_serial(previous)
    candidate = int(now)
    if previous is None:
        return candidate
    return min(max(previous + 1, candidate), SERIAL_MAX)


def next_zone(snapshot: Snapshot, previous: str | None, now: float, **options: Any) -> str:
    """The zone for `snapshot` given the text last written: that very text when the records are
    the same (rendered with its serial, they compare equal), else rendered with the next
    serial. `options` are `render_zone`'s."""
    serial = zone_serial(previous) if previous else None
    if serial is not None:
        same = render_zone(snapshot, serial=serial, **options)
        if same == previous:
            return previous
    return render_zone(snapshot, serial=next_serial(serial, now), **options)


def write_zone(path: str | os.PathLike[str], text: str) -> None:
    """Replace the zone file atomically: a server polling it reads the old or the new zone,
    never half of one."""
    replace_file(path, text)
