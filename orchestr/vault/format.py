"""Ansible Vault's envelope, formats 1.1 and 1.2, as pure functions over bytes.

The envelope is a header line, `$ANSIBLE_VAULT;1.1;AES256` (or `$ANSIBLE_VAULT;1.2;AES256;LABEL`
when the secret has a vault-id label other than `default`), then the payload in lines of 80 hex
digits. The payload is the hex of three lines joined by newlines: the salt in hex, the
HMAC-SHA256 of the ciphertext in hex, the ciphertext in hex. Keys come from PBKDF2-HMAC-SHA256
(10,000 iterations, 80 bytes): 32 bytes of AES-256 key, 32 bytes of HMAC key, 16 bytes of
initial counter for AES-CTR. The plaintext is PKCS#7-padded to 16 bytes before encryption.
"""

from __future__ import annotations

import binascii
import hmac
import os
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes, padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.hmac import HMAC
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

MAGIC = "$ANSIBLE_VAULT"
CIPHER = "AES256"
DEFAULT_LABEL = "default"
ITERATIONS = 10_000
SALT_BYTES = 32
LINE_WIDTH = 80


class VaultFormatError(ValueError):
    """The text is not a well-formed vault envelope (bad header, bad hex, missing parts)."""


class VaultPasswordError(ValueError):
    """The envelope is well formed, but this password does not open it (HMAC mismatch)."""


@dataclass(frozen=True)
class Envelope:
    version: str  # "1.1" or "1.2"
    cipher: str  # "AES256"
    label: str | None  # the vault-id label of a 1.2 envelope
    salt: bytes
    mac: bytes  # the HMAC's hex digest, as bytes of ASCII
    ciphertext: bytes


def _as_bytes(value: str | bytes) -> bytes:
    return value.encode("utf-8") if isinstance(value, str) else value


def is_encrypted(data: str | bytes) -> bool:
    """Whether `data` starts with the vault header (leading whitespace allowed)."""
    return _as_bytes(data).lstrip().startswith(MAGIC.encode() + b";")


def _keys(password: bytes, salt: bytes) -> tuple[bytes, bytes, bytes]:
    derived = PBKDF2HMAC(
        algorithm=hashes.SHA256(), length=32 + 32 + 16, salt=salt, iterations=ITERATIONS
    ).derive(password)
    return derived[:32], derived[32:64], derived[64:]


def _mac(key: bytes, ciphertext: bytes) -> bytes:
    signer = HMAC(key, hashes.SHA256())
    signer.update(ciphertext)
    return binascii.hexlify(signer.finalize())


def header(label: str | None = None) -> str:
    """The first line: 1.1 for the default identity, 1.2 naming any other label."""
    if label and label != DEFAULT_LABEL:
        if ";" in label or "\n" in label:
            raise VaultFormatError(f"a vault id label cannot hold ';' or a newline: {label!r}")
        return f"{MAGIC};1.2;{CIPHER};{label}"
    return f"{MAGIC};1.1;{CIPHER}"


def encrypt(
    plaintext: str | bytes,
    password: str | bytes,
    label: str | None = None,
    salt: bytes | None = None,
) -> str:
    """The envelope for `plaintext`, ending with a newline, as `ansible-vault encrypt` writes it.
    `salt` is random unless given (tests give one to compare bytes)."""
    secret = _as_bytes(password)
    if not secret:
        raise VaultPasswordError("the vault password is empty")
    salt = os.urandom(SALT_BYTES) if salt is None else salt
    cipher_key, mac_key, counter = _keys(secret, salt)
    padder = padding.PKCS7(algorithms.AES.block_size).padder()
    padded = padder.update(_as_bytes(plaintext)) + padder.finalize()
    encryptor = Cipher(algorithms.AES(cipher_key), modes.CTR(counter)).encryptor()
    ciphertext = encryptor.update(padded) + encryptor.finalize()
    inner = b"\n".join(
        [binascii.hexlify(salt), _mac(mac_key, ciphertext), binascii.hexlify(ciphertext)]
    )
    payload = binascii.hexlify(inner).decode("ascii")
    lines = [payload[i : i + LINE_WIDTH] for i in range(0, len(payload), LINE_WIDTH)]
    return "\n".join([header(label), *lines]) + "\n"


def _unhex(data: bytes, what: str) -> bytes:
    try:
        return binascii.unhexlify(data)
    except (binascii.Error, TypeError) as error:
        raise VaultFormatError(f"Vault format unhexlify error: {error} ({what})") from None


def parse(envelope: str | bytes) -> Envelope:
    """The parts of an envelope; VaultFormatError when it is not one."""
    lines = _as_bytes(envelope).strip().splitlines()
    if not lines or not is_encrypted(lines[0]):
        raise VaultFormatError("Input is not vault encrypted data.")
    fields = [f.strip().decode("utf-8", "replace") for f in lines[0].strip().split(b";")]
    if len(fields) < 3:
        raise VaultFormatError("Vault envelope format error: the header has too few fields.")
    version, cipher = fields[1], fields[2]
    label = fields[3] if len(fields) > 3 and version == "1.2" and fields[3] else None
    if cipher != CIPHER:
        raise VaultFormatError(f"Cipher {cipher!r} could not be found.")
    inner = _unhex(b"".join(line.strip() for line in lines[1:]), "payload")
    parts = inner.split(b"\n", 2)
    if len(parts) != 3:
        raise VaultFormatError("Vault format error: the payload has no salt, HMAC and ciphertext.")
    salt, mac, ciphertext = parts
    return Envelope(
        version, cipher, label, _unhex(salt, "salt"), mac.strip(), _unhex(ciphertext, "data")
    )


def decrypt(envelope: str | bytes | Envelope, password: str | bytes) -> bytes:
    """The plaintext of an envelope. VaultPasswordError when the HMAC does not match (a wrong
    password or tampered data); VaultFormatError when the text is not an envelope."""
    parsed = envelope if isinstance(envelope, Envelope) else parse(envelope)
    cipher_key, mac_key, counter = _keys(_as_bytes(password), parsed.salt)
    if not hmac.compare_digest(_mac(mac_key, parsed.ciphertext), parsed.mac):
        raise VaultPasswordError("HMAC verification failed: Signature did not match digest.")
    decryptor = Cipher(algorithms.AES(cipher_key), modes.CTR(counter)).decryptor()
    padded = decryptor.update(parsed.ciphertext) + decryptor.finalize()
    unpadder = padding.PKCS7(algorithms.AES.block_size).unpadder()
    try:
        return unpadder.update(padded) + unpadder.finalize()
    except ValueError:
        raise VaultPasswordError("the decrypted data has bad padding") from None


def label_of(envelope: str | bytes) -> str | None:
    """The vault-id label a 1.2 envelope names (None for 1.1), read from the header only."""
    first = _as_bytes(envelope).lstrip().split(b"\n", 1)[0]
    fields = [f.strip().decode("utf-8", "replace") for f in first.split(b";")]
    if len(fields) > 3 and fields[1] == "1.2" and fields[3]:
        return fields[3]
    return None
