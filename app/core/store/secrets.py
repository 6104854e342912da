"""The key file, Fernet encryption of secret columns, and keyed hashes for lookups."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import stat
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import Text
from sqlalchemy.types import TypeDecorator

from app.errors import MailsirenError

KEY_FILE_HEADER = (
    "# mailsiren key file. Keep it secret (mode 0600) and back it up:\n"
    "# without it no stored password or email address can be read.\n"
)


class KeyFileError(MailsirenError):
    """The key file is missing, unsafe or unreadable; the message says how to fix it."""

    title = "Key file not usable"


class DecryptionError(MailsirenError):
    """A stored secret cannot be decrypted with the keys in the key file."""

    title = "Secret cannot be decrypted"


@dataclass(frozen=True)
class KeyRing:
    """The Fernet keys (newest first) and the HMAC key, as read from the key file."""

    fernet_keys: tuple[bytes, ...]
    hmac_key: bytes
    path: Path | None = None

    @cached_property
    def _fernet(self) -> MultiFernet:
        return MultiFernet([Fernet(key) for key in self.fernet_keys])

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode("utf-8")
        except InvalidToken as error:
            where = f" in {self.path}" if self.path else ""
            raise DecryptionError(
                f"A stored secret cannot be decrypted with the keys{where}: "
                "the key file does not belong to this database. Put back the key file this "
                "database was written with (from your backup, or from another host of the "
                "team, mode 0600); mailsiren makes a new one when it finds none, and that one "
                "cannot read what the old one encrypted."
            ) from error

    def reencrypt(self, token: str) -> str:
        """The same secret, encrypted under the newest key."""
        try:
            return self._fernet.rotate(token.encode("ascii")).decode("ascii")
        except InvalidToken as error:
            raise DecryptionError("A stored secret cannot be decrypted for rotation.") from error

    def keyed_hash(self, value: str) -> str:
        """An HMAC-SHA256 of a normalised value: finds duplicates without decrypting."""
        return hmac.new(self.hmac_key, value.encode("utf-8"), hashlib.sha256).hexdigest()

    def with_new_primary_key(self) -> KeyRing:
        return KeyRing((Fernet.generate_key(), *self.fernet_keys), self.hmac_key, self.path)

    def with_only_primary_key(self) -> KeyRing:
        return KeyRing(self.fernet_keys[:1], self.hmac_key, self.path)

    def serialise(self) -> str:
        lines = [KEY_FILE_HEADER, f"hmac = {base64.urlsafe_b64encode(self.hmac_key).decode()}\n"]
        lines += [f"fernet = {key.decode()}\n" for key in self.fernet_keys]
        return "".join(lines)


def new_keyring(path: Path | None = None) -> KeyRing:
    return KeyRing((Fernet.generate_key(),), os.urandom(32), path)


def check_key_file_permissions(path: Path) -> None:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise KeyFileError(
            f"The key file {path} is readable by other users (mode {mode:04o}). "
            f"mailsiren refuses to use it. Fix it with: chmod 600 {path}"
        )


def load_keyring(path: Path) -> KeyRing:
    """Read the key file, refusing one that group or others may read."""
    try:
        check_key_file_permissions(path)
        text = path.read_text(encoding="ascii")
    except FileNotFoundError as error:
        raise KeyFileError(f"The key file {path} does not exist.") from error
    except (OSError, UnicodeDecodeError) as error:
        raise KeyFileError(f"The key file {path} cannot be read: {error}") from error
    fernet_keys: list[bytes] = []
    hmac_key: bytes | None = None
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, _, value = (part.strip() for part in line.partition("="))
        try:
            if name == "fernet":
                Fernet(value.encode())
                fernet_keys.append(value.encode())
                continue
            if name == "hmac":
                hmac_key = base64.urlsafe_b64decode(value.encode())
                continue
        except ValueError as error:
            raise KeyFileError(f"{path}:{number}: damaged {name} key ({error}).") from error
        raise KeyFileError(f"{path}:{number}: unknown line {name!r}; expected fernet or hmac.")
    if not fernet_keys or not hmac_key:
        raise KeyFileError(f"The key file {path} lacks a fernet or an hmac key.")
    return KeyRing(tuple(fernet_keys), hmac_key, path)


def write_keyring(keyring: KeyRing, path: Path) -> None:
    """Write the key file atomically with mode 0600, whatever the umask."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_name(path.name + ".new")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(descriptor, 0o600)
        os.write(descriptor, keyring.serialise().encode("ascii"))
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
    os.replace(temporary, path)


def load_or_create_keyring(path: Path) -> KeyRing:
    if not path.exists():
        write_keyring(new_keyring(path), path)
    return load_keyring(path)


def normalise_address(address: str) -> str:
    return address.strip().lower()


class EncryptedText(TypeDecorator[str]):
    """A text column stored as a Fernet token; the engine's dialect carries the key ring."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect) -> str | None:  # type: ignore[override]
        if value is None:
            return None
        return keyring_of(dialect).encrypt(value)

    def process_result_value(self, value: str | None, dialect) -> str | None:  # type: ignore[override]
        if value is None:
            return None
        return keyring_of(dialect).decrypt(value)


def keyring_of(dialect) -> KeyRing:
    keyring = getattr(dialect, "mailsiren_keyring", None)
    if keyring is None:
        raise KeyFileError("No key ring is attached to this database connection.")
    return keyring
