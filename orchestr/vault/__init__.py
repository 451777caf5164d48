"""Ansible Vault: envelopes 1.1 and 1.2 (format.py), passwords and vault ids (keyring.py),
decryption while loading YAML (loading.py), decrypted values as masked secrets (secret.py),
the flags (options.py) and `orchestr vault` (cli.py).

Decryption happens at load, not lazily at first use as ansible-core 2.19 does: orchestr loads
and checks everything before any host is touched, and a decrypted value then flows unchanged
into templating, modules and connection settings (`ansible_become_password` in group_vars is
the most common vaulted variable), with no vault-aware code in the templar or the transport.
The cost: in `orchestr apply`, a vault value orchestr cannot decrypt fails the run (exit 1,
file:line, before any host is touched) even when no task uses it, where ansible-playbook fails
only at the task that uses it. Where a value is not needed, it stays encrypted, as Ansible
leaves it: `apply --syntax-check/--list-*` and `orchestr inventory --list/--host` keep inline
values encrypted (as ansible-playbook and ansible-inventory do), and commands that read the
inventory only to reach hosts (exec, facts, status...) open inline values only when a password
was given. A file encrypted whole is always decrypted (Ansible cannot parse it otherwise).
"""

from orchestr.vault.keyring import Keyring, VaultError, VaultPassword
from orchestr.vault.secret import VaultSecret, contains_secret, mask

__all__ = ["Keyring", "VaultError", "VaultPassword", "VaultSecret", "contains_secret", "mask"]
