"""The vault envelope: formats 1.1 and 1.2, known vectors made by ansible-vault, tampering."""

from __future__ import annotations

import binascii

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orchestr.vault import format as vault_format
from orchestr.vault.format import VaultFormatError, VaultPasswordError

# Made by ansible-vault 2.19 with ANSIBLE_VAULT_ENCRYPT_SALT=orchestr-test-salt, password "pw",
# plaintext "greeting: hello from ansible\n": `encrypt --vault-id dev@pw` (1.2) and
# `encrypt --vault-password-file pw` (1.1). The payload does not depend on the label.
SALT = b"orchestr-test-salt"
PLAINTEXT = b"greeting: hello from ansible\n"
PAYLOAD = """\
3666373236333638363537333734373232643734363537333734326437333631366337340a626366
64623465663866663733306562303037396433623431633731313135646264653233386234303562
3431376234616137336533663664336639613438650a346333376436306538363539643666373662
66373137343965303761313039396439373137373363623439643564666364636632386338393333
306534336238
"""
ANSIBLE_1_1 = "$ANSIBLE_VAULT;1.1;AES256\n" + PAYLOAD
ANSIBLE_1_2 = "$ANSIBLE_VAULT;1.2;AES256;dev\n" + PAYLOAD


def test_decrypts_ansible_vectors() -> None:
    assert vault_format.decrypt(ANSIBLE_1_1, "pw") == PLAINTEXT
    assert vault_format.decrypt(ANSIBLE_1_2, b"pw") == PLAINTEXT


def test_encrypts_byte_for_byte_like_ansible() -> None:
    assert vault_format.encrypt(PLAINTEXT, "pw", salt=SALT) == ANSIBLE_1_1
    assert vault_format.encrypt(PLAINTEXT, "pw", "default", salt=SALT) == ANSIBLE_1_1
    assert vault_format.encrypt(PLAINTEXT, "pw", "dev", salt=SALT) == ANSIBLE_1_2


def test_envelope_shape() -> None:
    envelope = vault_format.encrypt("x" * 300, "pw", "prod")
    lines = envelope.split("\n")
    assert lines[0] == "$ANSIBLE_VAULT;1.2;AES256;prod"
    assert envelope.endswith("\n") and lines[-1] == ""
    assert all(len(line) == 80 for line in lines[1:-2]) and 0 < len(lines[-2]) <= 80
    parsed = vault_format.parse(envelope)
    assert (parsed.version, parsed.cipher, parsed.label) == ("1.2", "AES256", "prod")
    assert len(parsed.salt) == 32 and len(parsed.mac) == 64
    # PKCS#7 pads 300 bytes to 304; CTR keeps the length.
    assert len(parsed.ciphertext) == 304
    assert vault_format.label_of(envelope) == "prod"
    assert vault_format.label_of(ANSIBLE_1_1) is None


def test_random_salt_differs_each_time() -> None:
    first, second = (vault_format.encrypt("same", "pw") for _ in range(2))
    assert first != second
    assert vault_format.decrypt(first, "pw") == vault_format.decrypt(second, "pw") == b"same"


@pytest.mark.parametrize("plaintext", [b"", b"a" * 16, "päss wörd ✓".encode(), bytes(range(256))])
def test_round_trip_edges(plaintext: bytes) -> None:
    assert vault_format.decrypt(vault_format.encrypt(plaintext, "pw"), "pw") == plaintext


@settings(max_examples=15, deadline=None)
@given(st.binary(max_size=200), st.text(min_size=1, max_size=20))
def test_round_trip_property(plaintext: bytes, password: str) -> None:
    assert vault_format.decrypt(vault_format.encrypt(plaintext, password), password) == plaintext


def test_indented_envelope_as_yaml_leaves_it() -> None:
    indented = "\n".join("   " + line for line in ANSIBLE_1_1.splitlines())
    assert vault_format.decrypt(indented, "pw") == PLAINTEXT


def test_wrong_password() -> None:
    with pytest.raises(VaultPasswordError, match="HMAC verification failed"):
        vault_format.decrypt(ANSIBLE_1_1, "not-pw")


def _tamper(envelope: str, part: int) -> str:
    """Flip one hex digit in the salt (0), the HMAC (1) or the ciphertext (2)."""
    header, *lines = envelope.splitlines()
    inner = binascii.unhexlify("".join(lines)).split(b"\n")
    digit = inner[part][:1]
    inner[part] = (b"0" if digit != b"0" else b"1") + inner[part][1:]
    return header + "\n" + binascii.hexlify(b"\n".join(inner)).decode() + "\n"


@pytest.mark.parametrize("part", [0, 1, 2], ids=["salt", "hmac", "ciphertext"])
def test_tampering_is_detected(part: int) -> None:
    with pytest.raises(VaultPasswordError):
        vault_format.decrypt(_tamper(ANSIBLE_1_1, part), "pw")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("greeting: hello\n", "not vault encrypted"),
        ("$ANSIBLE_VAULT;1.1;AES\n6162\n", "Cipher 'AES' could not be found"),
        ("$ANSIBLE_VAULT;1.1\n6162\n", "too few fields"),
        ("$ANSIBLE_VAULT;1.1;AES256\nzz\n", "unhexlify"),
        ("$ANSIBLE_VAULT;1.1;AES256\n616263\n", "no salt, HMAC and ciphertext"),
        (ANSIBLE_1_1[:-20] + "\n", "unhexlify"),
    ],
)
def test_malformed_envelopes(text: str, message: str) -> None:
    with pytest.raises(VaultFormatError, match=message):
        vault_format.decrypt(text, "pw")


def test_is_encrypted() -> None:
    assert vault_format.is_encrypted(ANSIBLE_1_1)
    assert vault_format.is_encrypted(b"  " + ANSIBLE_1_2.encode())
    assert not vault_format.is_encrypted("$ANSIBLE_VAULTX")
    assert not vault_format.is_encrypted("a: 1")


def test_empty_password_and_bad_label_refused() -> None:
    with pytest.raises(VaultPasswordError):
        vault_format.encrypt("x", "")
    with pytest.raises(VaultFormatError):
        vault_format.encrypt("x", "pw", "a;b")
