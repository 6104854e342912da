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
    """The keys of the key file: Fernet keys (the first encrypts; every one decrypts), keys
    staged for the next rotation (decrypt only, used by no one yet) and the HMAC key."""

    fernet_keys: tuple[bytes, ...]
    hmac_key: bytes
    path: Path | None = None
    staged_keys: tuple[bytes, ...] = ()
    signature: tuple[int, int, int] | None = None  # the file as read: inode, size, mtime

    @cached_property
    def _fernet(self) -> MultiFernet:
        return MultiFernet([Fernet(key) for key in (*self.fernet_keys, *self.staged_keys)])

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode("utf-8")
        except InvalidToken as error:
            where = f" in {self.path}" if self.path else ""
            raise DecryptionError(
                f"A stored secret cannot be decrypted with the keys{where}. If `mailsiren key "
                "rotate` ran on another host of the team, copy that host's key file here "
                "(mode 0600; running processes pick it up without a restart). Otherwise this "
                "key file does not belong to this database: put back the one it was written "
                "with, from your backup; a new key file cannot read what the old one encrypted."
            ) from error

    def reencrypt(self, token: str) -> str:
        """The same secret, encrypted under the newest key."""
        try:
            return self._fernet.rotate(token.encode("ascii")).decode("ascii")
        except InvalidToken as error:
            raise DecryptionError("A stored secret cannot be decrypted for rotation.") from error

    def is_under_primary(self, token: str) -> bool:
        try:
            Fernet(self.fernet_keys[0]).decrypt(token.encode("ascii"))
        except InvalidToken:
            return False
        return True

    def keyed_hash(self, value: str) -> str:
        """An HMAC-SHA256 of a normalised value: finds duplicates without decrypting."""
        return hmac.new(self.hmac_key, value.encode("utf-8"), hashlib.sha256).hexdigest()

    def with_staged_key(self) -> KeyRing:
        """A new key every holder can decrypt with, before anyone encrypts with it."""
        staged = (*self.staged_keys, Fernet.generate_key())
        return KeyRing(self.fernet_keys, self.hmac_key, self.path, staged)

    def with_new_primary_key(self) -> KeyRing:
        """The oldest staged key (or a new one) encrypts from now on; the others still read."""
        if self.staged_keys:
            primary, staged = self.staged_keys[0], self.staged_keys[1:]
        else:
            primary, staged = Fernet.generate_key(), ()
        return KeyRing((primary, *self.fernet_keys), self.hmac_key, self.path, staged)

    def without_retired_keys(self) -> KeyRing:
        """Only the key that encrypts (and any staged ones): the older keys no longer read."""
        return KeyRing(self.fernet_keys[:1], self.hmac_key, self.path, self.staged_keys)

    def serialise(self) -> str:
        lines = [KEY_FILE_HEADER, f"hmac = {base64.urlsafe_b64encode(self.hmac_key).decode()}\n"]
        lines += [f"fernet = {key.decode()}\n" for key in self.fernet_keys]
        lines += [f"staged = {key.decode()}\n" for key in self.staged_keys]
        return "".join(lines)

    def current(self) -> KeyRing:
        """This ring, or the key file's keys if the file changed since it was read (a `key
        rotate` by another process): a long-running serve follows a rotation, no restart."""
        if self.path is None:
            return self
        try:
            now = file_signature(self.path)
        except OSError:
            return self  # replaced this instant, or gone: keep reading with what we have
        if now == self.signature:
            return self
        try:
            return load_keyring(self.path)
        except KeyFileError:
            return self  # a file made unusable: the keys already held still read


def file_signature(path: Path) -> tuple[int, int, int]:
    status = path.stat()
    return (status.st_ino, status.st_size, status.st_mtime_ns)


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
        signature = file_signature(path)  # before reading: a change after it is seen next time
        text = path.read_text(encoding="ascii")
    except FileNotFoundError as error:
        raise KeyFileError(f"The key file {path} does not exist.") from error
    except (OSError, UnicodeDecodeError) as error:
        raise KeyFileError(f"The key file {path} cannot be read: {error}") from error
    keys: dict[str, list[bytes]] = {"fernet": [], "staged": []}
    hmac_key: bytes | None = None
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, _, value = (part.strip() for part in line.partition("="))
        try:
            if name in keys:
                Fernet(value.encode())
                keys[name].append(value.encode())
                continue
            if name == "hmac":
                hmac_key = base64.urlsafe_b64decode(value.encode())
                continue
        except ValueError as error:
            raise KeyFileError(f"{path}:{number}: damaged {name} key ({error}).") from error
        raise KeyFileError(
            f"{path}:{number}: unknown line {name!r}; expected fernet, staged or hmac."
        )
    if not keys["fernet"] or not hmac_key:
        raise KeyFileError(f"The key file {path} lacks a fernet or an hmac key.")
    return KeyRing(tuple(keys["fernet"]), hmac_key, path, tuple(keys["staged"]), signature)


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
    """The engine's key ring, as the key file holds it now."""
    keyring = getattr(dialect, "mailsiren_keyring", None)
    if keyring is None:
        raise KeyFileError("No key ring is attached to this database connection.")
    current = keyring.current()
    if current is not keyring:
        dialect.mailsiren_keyring = current
    return current
