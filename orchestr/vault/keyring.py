"""Vault passwords: where they come from (files, scripts, prompts), which one opens an envelope,
and the keyring a command line made active for everything it loads.

Sources are read as Ansible reads them:
- `--vault-id LABEL@SOURCE` (LABEL defaults to `default`): SOURCE is `prompt`, a file, or an
  executable script whose stdout is the password; a script named `*-client` (with any
  extension) is called with `--vault-id LABEL`, and exit code 2 means "no secret for it".
- `--vault-password-file PATH` and $ANSIBLE_VAULT_PASSWORD_FILE: `default@PATH`.
- `--ask-vault-pass`: `default@prompt`, asked as "Vault password: ".
- $ANSIBLE_VAULT_IDENTITY_LIST (comma-separated LABEL@SOURCE) comes before the command line.
A password file's text is stripped of surrounding whitespace, a script's stdout of newlines.
An envelope naming a label is tried with that label's passwords first, then with all others
(unless $ANSIBLE_VAULT_ID_MATCH is true, as in Ansible).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from orchestr.errors import EXIT_ERROR, Location, OrchestrError

DEFAULT_LABEL = "default"
PASSWORD_HINT = (
    "give the vault password with --vault-password-file FILE, --vault-id LABEL@SOURCE or "
    "--ask-vault-pass, or set ANSIBLE_VAULT_PASSWORD_FILE"
)
_TRUE = ("1", "true", "yes", "on", "y", "t")


class VaultError(OrchestrError):
    """A vault password could not be had, or an envelope could not be opened."""

    exit_code = EXIT_ERROR


@dataclass(frozen=True)
class VaultPassword:
    label: str
    password: bytes = field(repr=False)
    source: str = ""  # what it was read from, for messages: a path, or "prompt"


def split_vault_id(slug: str) -> tuple[str | None, str]:
    """`dev@path` -> ("dev", "path"); `path` -> (None, "path")."""
    if "@" not in slug:
        return None, slug
    label, source = slug.split("@", 1)
    return label or None, source


def _is_client_script(path: str) -> bool:
    stem = os.path.splitext(os.path.basename(path))[0]
    return stem.endswith("-client") or os.path.basename(path).endswith("-client")


def _run_script(path: str, label: str) -> bytes:
    client = _is_client_script(path)
    argv = [path, "--vault-id", label] if client else [path]
    try:
        done = subprocess.run(argv, capture_output=True, check=False)
    except OSError as error:
        raise VaultError(
            f"Problem running vault password script {path} ({error.strerror or error})",
            hint="check that the script is executable and its interpreter exists",
        ) from None
    stderr = done.stderr.decode("utf-8", "replace").strip()
    if client and done.returncode == 2:
        raise VaultError(
            f"Vault password client script {path} did not find a secret for vault-id={label}: "
            f"{stderr}"
        )
    if done.returncode != 0:
        raise VaultError(
            f"Vault password script {path} returned non-zero ({done.returncode}): {stderr}"
        )
    return done.stdout.strip(b"\r\n")


def read_password_source(
    label: str, source: str, known: Sequence[VaultPassword] = (),
    prompt: Callable[[str], str] | None = None, new: bool = False, legacy_prompt: bool = False,
) -> VaultPassword:  # fmt: skip
    """One password from one source; VaultError (one line) when it cannot be had."""
    if source in ("prompt", "prompt_ask_vault_pass"):
        ask = prompt or _prompt
        legacy = legacy_prompt or source == "prompt_ask_vault_pass"
        if new:
            first = "New Vault password: " if legacy else f"New vault password ({label}): "
            second = (
                "Confirm New Vault password: " if legacy else f"Confirm new vault password ({label}): "
            )  # fmt: skip
            text = ask(first)
            if ask(second) != text:
                raise VaultError("Passwords do not match")
        else:
            text = ask("Vault password: " if legacy else f"Vault password ({label}): ")
        password = text.strip().encode("utf-8")
        if not password:
            raise VaultError("Invalid vault password was provided from prompt")
        return VaultPassword(label, password, "prompt")
    path = os.path.expanduser(source)
    if not os.path.exists(path):
        raise VaultError(f"The vault password file {os.path.abspath(path)} was not found",
                         hint=PASSWORD_HINT)  # fmt: skip
    if os.path.isdir(path):
        raise VaultError(f"The vault password file provided '{path}' can not be a directory")
    if os.access(path, os.X_OK):
        password = _run_script(path, label)
        what = f"script ({path})"
    else:
        try:
            with open(path, "rb") as handle:
                password = handle.read().strip()
        except OSError as error:
            raise VaultError(
                f"Could not read vault password file {path!r}: {error.strerror}"
            ) from None
        from orchestr.vault import format as vault_format

        if vault_format.is_encrypted(password) and known:
            # A password file may itself be vaulted with a password given before it.
            password = Keyring(known).decrypt(
                password.decode("utf-8", "replace"), Location(path, 1)
            )
        password = password.strip(b"\r\n")
        what = f"file ({path})"
    if not password:
        raise VaultError(f"Invalid vault password was provided from {what}")
    return VaultPassword(label, password, path)


def _prompt(text: str) -> str:
    import click

    return click.prompt(text.rstrip(": ").rstrip(), hide_input=True, err=True, default="",
                        show_default=False, prompt_suffix=": ")  # fmt: skip


def vault_slugs(
    vault_ids: Sequence[str] = (), password_files: Sequence[str] = (), ask: bool = False,
    environ: dict[str, str] | None = None,
) -> list[str]:  # fmt: skip
    """Every LABEL@SOURCE in Ansible's order: the identity list from the environment, then
    --vault-id, then password files (command line, then the environment), then the prompt."""
    env = os.environ if environ is None else environ
    slugs = [s.strip() for s in env.get("ANSIBLE_VAULT_IDENTITY_LIST", "").split(",") if s.strip()]
    slugs += list(vault_ids)
    files = list(password_files)
    if env.get("ANSIBLE_VAULT_PASSWORD_FILE"):
        files.append(env["ANSIBLE_VAULT_PASSWORD_FILE"])
    slugs += [f"{DEFAULT_LABEL}@{path}" for path in files]
    if ask:
        slugs.append(f"{DEFAULT_LABEL}@prompt_ask_vault_pass")
    return slugs


def load_passwords(
    slugs: Sequence[str], prompt: Callable[[str], str] | None = None, new: bool = False,
    warn: Callable[[str], None] | None = None,
) -> list[VaultPassword]:  # fmt: skip
    """Read every source. As Ansible: a source that fails is a warning when another gave a
    password, and the error itself when none did."""
    passwords: list[VaultPassword] = []
    failures: list[VaultError] = []
    for slug in slugs:
        label, source = split_vault_id(slug)
        label = label or DEFAULT_LABEL
        try:
            passwords.append(read_password_source(label, source, passwords, prompt, new))
        except VaultError as error:
            if source in ("prompt", "prompt_ask_vault_pass"):
                raise
            failures.append(error)
    if failures and not passwords:
        raise failures[0]
    for failure in failures:
        (warn or _warn)(f"Error getting vault password file: {failure.one_line()}")
    return passwords


def _warn(message: str) -> None:
    import click

    click.echo(f"[WARNING]: {message}", err=True)


class Keyring:
    """The vault passwords of one command, and the plaintexts it already opened (PBKDF2 costs
    milliseconds; a file read twice is decrypted once).

    `inline` says what loading does with an inline `!vault` value: "decrypt" it (a run), or
    "keep" it encrypted, as ansible-inventory prints it (the inventory command).
    """

    def __init__(self, passwords: Sequence[VaultPassword] = (), inline: str = "decrypt") -> None:
        self.passwords = list(passwords)
        self.inline = inline
        self._opened: dict[str, bytes] = {}

    def __repr__(self) -> str:
        return f"Keyring(labels={self.labels!r}, inline={self.inline!r})"

    @property
    def labels(self) -> list[str]:
        return [p.label for p in self.passwords]

    def candidates(self, label: str | None) -> list[VaultPassword]:
        """Passwords to try for an envelope naming `label`, in order."""
        first = [p for p in self.passwords if label is not None and p.label == label]
        if label is not None and os.environ.get("ANSIBLE_VAULT_ID_MATCH", "").lower() in _TRUE:
            return first
        return first + [p for p in self.passwords if p not in first]

    def decrypt(self, envelope: str, where: Location | None = None) -> bytes:
        """The plaintext of `envelope`; VaultError with `where` and a hint otherwise."""
        known = self._opened.get(envelope)
        if known is not None:
            return known
        from orchestr.vault import format as vault_format

        try:
            parsed = vault_format.parse(envelope)
        except vault_format.VaultFormatError as error:
            raise VaultError(str(error), location=where,
                             hint="the value must be a whole vault envelope, as `orchestr "
                                  "vault encrypt_string` prints it") from None  # fmt: skip
        if not self.passwords:
            raise VaultError("Attempting to decrypt but no vault secrets found",
                             location=where, hint=PASSWORD_HINT)  # fmt: skip
        candidates = self.candidates(parsed.label)
        for candidate in candidates:
            try:
                plaintext = vault_format.decrypt(parsed, candidate.password)
            except vault_format.VaultPasswordError:
                continue
            self._opened[envelope] = plaintext
            return plaintext
        tried = ", ".join(dict.fromkeys(p.label for p in candidates)) or "none"
        named = f"it names vault id {parsed.label!r}; " if parsed.label else ""
        raise VaultError(
            "Decryption failed (no vault secrets were found that could decrypt)",
            location=where,
            hint=f"{named}the passwords of vault ids {tried} do not open it",
        )

    def for_encryption(self, encrypt_vault_id: str | None = None) -> VaultPassword:
        """The password `orchestr vault encrypt` uses: the one of --encrypt-vault-id, or the
        only one given."""
        if not self.passwords:
            raise VaultError("A vault password is required to use Ansible's Vault",
                             hint=PASSWORD_HINT)  # fmt: skip
        if encrypt_vault_id:
            for password in self.passwords:
                if password.label == encrypt_vault_id:
                    return password
            raise VaultError(
                f"Did not find a match for --encrypt-vault-id={encrypt_vault_id} in the known "
                f"vault-ids {self.labels}"
            )
        if len(self.passwords) > 1:
            raise VaultError(
                f"The vault-ids {','.join(self.labels)} are available to encrypt. Specify the "
                "vault-id to encrypt with --encrypt-vault-id"
            )
        return self.passwords[0]


# The keyring of the running command. A module global (not a context variable) so that loading
# in a worker thread sees it too; `activate` clears it when the click command ends.
_active: Keyring | None = None


def active() -> Keyring | None:
    return _active


@contextmanager
def using(keyring: Keyring | None) -> Iterator[Keyring | None]:
    """Make `keyring` the active one for the duration (tests, library callers)."""
    global _active
    previous, _active = _active, keyring
    try:
        yield keyring
    finally:
        _active = previous


def activate(keyring: Keyring) -> Keyring:
    """Make `keyring` active until the current click command (if any) finishes."""
    global _active
    previous, _active = _active, keyring
    try:
        import click

        context = click.get_current_context(silent=True)
    except ImportError:  # pragma: no cover - click is a dependency
        context = None
    if context is not None:

        def restore() -> None:
            global _active
            _active = previous

        context.call_on_close(restore)
    return keyring
