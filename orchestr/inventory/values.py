"""Variable values Ansible gives special treatment: !unsafe and !vault strings, JSON rendering."""

from __future__ import annotations

import datetime
import json
from collections.abc import Mapping
from typing import Any


class UnsafeText(str):
    """A string tagged !unsafe: never templated; ansible-inventory prints it as a marker object."""

    __slots__ = ()


class VaultText(str):
    """An inline !vault ciphertext kept encrypted; printed as a marker object as Ansible does."""

    __slots__ = ()


class _AnsibleLegacyEncoder(json.JSONEncoder):
    markers = True

    """Renders values like ansible-inventory's 'inventory_legacy' JSON profile."""

    def default(self, o: Any) -> Any:
        if isinstance(o, (datetime.date, datetime.time)):
            return o.isoformat()
        if isinstance(o, (set, frozenset, tuple)):
            return list(o)
        if isinstance(o, bytes):
            return o.decode("utf-8", "surrogateescape")
        return super().default(o)

    def encode(self, o: Any) -> str:
        return super().encode(_mark_special(o, unsafe=self.markers))


class _PlainEncoder(_AnsibleLegacyEncoder):
    # `ansible-inventory --host` prints !unsafe strings as plain text (!vault ones as markers).
    markers = False


def _mark_special(value: Any, unsafe: bool = True) -> Any:
    # json calls default() only for unknown types, and str subclasses are "known", so the
    # markers have to be put in place before encoding.
    if isinstance(value, UnsafeText):
        return {"__ansible_unsafe": str(value)} if unsafe else str(value)
    if isinstance(value, VaultText):
        return {"__ansible_vault": str(value)}
    if isinstance(value, str) and getattr(value, "ciphertext", None):
        # A decrypted inline !vault value (orchestr.vault.VaultSecret): shown encrypted.
        return {"__ansible_vault": value.ciphertext}  # type: ignore[attr-defined]
    if isinstance(value, Mapping):
        return {k: _mark_special(v, unsafe) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_mark_special(v, unsafe) for v in value]
    return value


def dumps_like_ansible(data: Any, markers: bool = True) -> str:
    """JSON text as ansible-inventory prints it: indent 4, sorted keys, UTF-8 kept; `markers`
    writes !unsafe/!vault strings as Ansible's marker objects, as --list does."""
    encoder = _AnsibleLegacyEncoder if markers else _PlainEncoder
    return json.dumps(data, cls=encoder, sort_keys=True, indent=4, ensure_ascii=False)
