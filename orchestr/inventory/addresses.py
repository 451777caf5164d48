"""Split 'host:port' and '[v6]:port' host entries the way Ansible's address parser does."""

from __future__ import annotations

import re

# Range forms Ansible accepts inside each kind of address; they decide whether an entry with
# brackets is a host name (so a ':NN' suffix is a port) or something else kept verbatim.
_NUMERIC = r"\[[0-9]+:[0-9]+(?::[0-9]+)?\]"
_HEX = r"\[[0-9a-f]+:[0-9a-f]+(?::[0-9]+)?\]"
_ALNUM = r"\[(?:[a-z]:[a-z]|[0-9]+:[0-9]+)(?::[0-9]+)?\]"

_V4_PART = rf"(?:[01]?[0-9]{{1,2}}|2[0-4][0-9]|25[0-5]|{_NUMERIC})"
_V6_PART = rf"(?:[0-9a-f]{{1,4}}|{_HEX})"
_LABEL = rf"(?:\w|{_ALNUM})(?:[\w_-]|{_ALNUM})*(?<![_-])"

_BRACKETED_PORT = re.compile(r"^\[(.+)\]:([0-9]+)$")
_HOST_PORT = re.compile(r"^((?:[^:\[\]]|\[[^\]]*\])*):([0-9]+)$")
_IPV4 = re.compile(rf"^(?:{_V4_PART}\.){{3}}{_V4_PART}$", re.I)
_IPV6 = re.compile(
    "^("
    + "|".join(
        [
            rf"(?:{_V6_PART}:){{7}}{_V6_PART}",
            rf"(?:{_V6_PART}:){{1,6}}:",
            rf"(?:{_V6_PART}:)(?::{_V6_PART}){{1,6}}",
            rf"(?:{_V6_PART}:){{2}}(?::{_V6_PART}){{1,5}}",
            rf"(?:{_V6_PART}:){{3}}(?::{_V6_PART}){{1,4}}",
            rf"(?:{_V6_PART}:){{4}}(?::{_V6_PART}){{1,3}}",
            rf"(?:{_V6_PART}:){{5}}(?::{_V6_PART}){{1,2}}",
            rf"(?:{_V6_PART}:){{6}}(?::{_V6_PART})",
            rf":(?::{_V6_PART}){{1,6}}",
            rf"{_V6_PART}?::",
            rf"(?:0:){{6}}(?:{_V6_PART}\.){{3}}{_V6_PART}",
            rf"::(?:ffff:)?(?:{_V6_PART}\.){{3}}{_V6_PART}",
            rf"(?:0:){{5}}ffff:(?:{_V6_PART}\.){{3}}{_V6_PART}",
        ]
    )
    + ")$",
    re.I,
)
_HOSTNAME = re.compile(rf"^{_LABEL}(?:\.{_LABEL})*$", re.I)


class AddressError(ValueError):
    """Not something Ansible recognises as a host name or IP address."""


def parse_address(text: str, allow_ranges: bool = False) -> tuple[str, int | None]:
    """Split an inventory host entry into (host, port); port is None when not given."""
    port: int | None = None
    # Both forms are tried in turn, the second on what the first left, as Ansible does.
    for pattern in (_BRACKETED_PORT, _HOST_PORT):
        match = pattern.match(text)
        if match:
            text, port = match.group(1), int(match.group(2))
    if not (_IPV4.match(text) or _IPV6.match(text) or _HOSTNAME.match(text)):
        raise AddressError(f"not a valid network hostname: {text}")
    if not allow_ranges and "[" in text:
        raise AddressError("detected a range in a host where ranges are not allowed")
    return text, port


def is_ip_address(text: str) -> bool:
    """Whether a name is an IPv4 or IPv6 address (ranges allowed, as Ansible's check does)."""
    return bool(_IPV4.match(text) or _IPV6.match(text))
