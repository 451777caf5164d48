"""Decrypted vault values are secrets: a str subclass that says so, and the masking of every
decrypted value wherever orchestr prints (console lines, JSON events, command displays).

A `VaultSecret` keeps its type while it is passed around as is (a variable used whole, an env
value), but templating makes new strings (`"--password={{ pw }}"`), so the masking also works
by value: every secret that was decrypted in this process is remembered and replaced by `***`
in any text about to be shown. Only the standard library at import: the transport and the
console import this module on every run.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

MASK = "***"
# Secrets shorter than this are masked only where they stand alone as a word: hiding every "ab"
# of the output would hide nothing useful and garble everything else.
_SUBSTRING_MIN = 4
# Lines of a multi-line secret (a key, a certificate) are masked one by one too: diffs and
# JSON escapes split the value at its newlines.
_LINE_MIN = 8

_long: set[str] = set()
_short: set[str] = set()
_pattern: re.Pattern[str] | None = None
_dirty = False
_yaml_ready = False


class VaultSecret(str):
    """A value decrypted from Ansible Vault: the plaintext, known to be secret.

    `ciphertext` is the inline `!vault` envelope it came from (None for a value read from a
    whole encrypted file), so `orchestr inventory` can print it back as ansible-inventory does.
    """

    ciphertext: str | None

    def __new__(cls, value: str, ciphertext: str | None = None) -> VaultSecret:
        self = super().__new__(cls, value)
        self.ciphertext = ciphertext
        remember(value)
        if not _yaml_ready:
            _register_yaml()
        return self

    def __reduce__(self) -> tuple[Any, ...]:
        return (VaultSecret, (str(self), self.ciphertext))

    def __deepcopy__(self, memo: dict[int, Any]) -> VaultSecret:
        return self

    def __copy__(self) -> VaultSecret:
        return self


def remember(value: str) -> None:
    """Mask `value` (and its JSON-escaped forms and long lines) in everything shown from now on."""
    global _dirty
    if not value or not value.strip():
        return
    forms = {value, json.dumps(value)[1:-1], json.dumps(value, ensure_ascii=False)[1:-1]}
    if "\n" in value:
        for line in value.splitlines():
            if len(line.strip()) >= _LINE_MIN:
                forms.update({line, json.dumps(line)[1:-1]})
    for form in forms:
        if len(form) >= _SUBSTRING_MIN:
            if form not in _long:
                _long.add(form)
                _dirty = True
        elif form not in _short:
            _short.add(form)
            _dirty = True


def forget_all() -> None:
    """Tests only: start again with nothing to mask."""
    global _pattern, _dirty
    _long.clear()
    _short.clear()
    _pattern = None
    _dirty = False


def _compiled() -> re.Pattern[str] | None:
    global _pattern, _dirty
    if _dirty:
        # Longest first, so a secret that contains another is masked whole.
        alternatives = [re.escape(s) for s in sorted(_long, key=len, reverse=True)]
        alternatives += [
            rf"(?<!\w){re.escape(s)}(?!\w)" for s in sorted(_short, key=len, reverse=True)
        ]
        _pattern = re.compile("|".join(alternatives)) if alternatives else None
        _dirty = False
    return _pattern


def mask(text: str) -> str:
    """`text` with every remembered secret replaced by ***."""
    pattern = _compiled()
    if pattern is None or not text:
        return text
    return pattern.sub(MASK, text)


def contains_secret(value: Any) -> bool:
    """Whether a value is, or holds in its text, a decrypted vault secret."""
    if isinstance(value, VaultSecret):
        return True
    if isinstance(value, str):
        pattern = _compiled()
        return pattern is not None and pattern.search(value) is not None
    if isinstance(value, Mapping):
        return any(contains_secret(v) for v in value.values())
    if isinstance(value, Iterable) and not isinstance(value, bytes):
        return any(contains_secret(v) for v in value)
    return False


def secret_data(value: Any, ciphertext: str | None = None) -> Any:
    """Every string inside `value` (not the keys) as a VaultSecret: the values of a file that
    was encrypted whole are all secrets."""
    if isinstance(value, VaultSecret):
        return value
    if isinstance(value, str):
        return VaultSecret(value, ciphertext)
    if isinstance(value, dict):
        return {k: secret_data(v) for k, v in value.items()}
    if isinstance(value, list):
        return [secret_data(v) for v in value]
    return value


def _register_yaml() -> None:
    global _yaml_ready
    _yaml_ready = True
    # PyYAML looks representers up by exact type: without this, dumping a VaultSecret (the
    # to_yaml filter, a rendered file) fails with "cannot represent an object". Every dumper
    # class that exists gets it (those made later inherit it); one that set its own is kept.
    try:
        import yaml
    except ImportError:  # pragma: no cover - pyyaml is a dependency
        return
    represent = yaml.representer.SafeRepresenter.represent_str
    pending = [yaml.representer.BaseRepresenter]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if VaultSecret not in cls.__dict__.get("yaml_representers", {}):
            cls.add_representer(VaultSecret, represent)
