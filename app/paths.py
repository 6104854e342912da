"""Where mailsiren keeps its files (platformdirs) and the settings read from config.toml."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import platformdirs

from app.errors import MailsirenError

APP_NAME = "mailsiren"
DATABASE_FILE_NAME = "mailsiren.db"
KEY_FILE_NAME = "mailsiren.key"
SHARED_CONFIG_FILE_NAME = "mailsiren.conf"


class SettingsError(MailsirenError):
    """config.toml cannot be read or holds a value of the wrong kind."""

    title = "Settings file not usable"


def data_dir() -> Path:
    """The per-user data directory: database, key file, listener certificate.
    MAILSIREN_DATA_DIR overrides it (`mailsiren demo` keeps its throwaway world there)."""
    override = os.environ.get("MAILSIREN_DATA_DIR")
    return Path(override) if override else platformdirs.user_data_path(APP_NAME)


def config_dir() -> Path:
    """The per-user configuration directory, holding config.toml; MAILSIREN_CONFIG_DIR
    overrides it."""
    override = os.environ.get("MAILSIREN_CONFIG_DIR")
    return Path(override) if override else platformdirs.user_config_path(APP_NAME)


def settings_file() -> Path:
    return config_dir() / "config.toml"


def key_file() -> Path:
    return data_dir() / KEY_FILE_NAME


def default_database_path() -> Path:
    return data_dir() / DATABASE_FILE_NAME


def shared_config_file() -> Path:
    """The administrator's shared SMTP configuration; MAILSIREN_SHARED_CONFIG overrides."""
    override = os.environ.get("MAILSIREN_SHARED_CONFIG")
    if override:
        return Path(override)
    return platformdirs.site_config_path(APP_NAME) / SHARED_CONFIG_FILE_NAME


@dataclass(frozen=True)
class Settings:
    """The settings of config.toml, with the environment's overrides applied."""

    database_url: str
    listener_host: str = "127.0.0.1"
    listener_port: int = 2525
    listener_certificate: str | None = None
    listener_private_key: str | None = None
    theme: str = "textual-dark"
    time: str = "local"  # how the UI shows times: "local" (zone shown once per screen) or "utc"
    keymap: dict[str, str] = field(default_factory=dict)  # binding id -> keys, e.g. "a,A"
    bell: bool = False  # ring the terminal bell when a new pending incident arrives
    run_serve: bool = True  # the UI starts serve if none runs (false on operator hosts)


TIME_CHOICES = ("local", "utc")
_SETTING_TYPES: dict[str, type] = {
    "database_url": str,
    "listener_host": str,
    "listener_port": int,
    "listener_certificate": str,
    "listener_private_key": str,
    "theme": str,
    "time": str,
    "keymap": dict,
    "bell": bool,
    "run_serve": bool,
}


def load_settings() -> Settings:
    """Read config.toml if it exists; MAILSIREN_DB overrides the database URL."""
    path = settings_file()
    values: dict[str, object] = {}
    if path.exists():
        try:
            with path.open("rb") as handle:
                values = tomllib.load(handle)
        except (OSError, tomllib.TOMLDecodeError) as error:
            raise SettingsError(f"{path}: {error}. Fix the file or remove it.") from error
    for key, value in values.items():
        expected = _SETTING_TYPES.get(key)
        if expected is None:
            known = ", ".join(sorted(_SETTING_TYPES))
            raise SettingsError(f"{path}: unknown setting {key!r}; known settings: {known}.")
        if not isinstance(value, expected) or (expected is not bool and isinstance(value, bool)):
            kind = {"dict": "table", "bool": "boolean (true or false)"}.get(
                expected.__name__, expected.__name__
            )
            raise SettingsError(f"{path}: setting {key!r} must be a {kind}, not {value!r}.")
    if values.get("time", "local") not in TIME_CHOICES:
        raise SettingsError(
            f'{path}: time = {values["time"]!r}; write time = "local" or time = "utc".'
        )
    if "keymap" in values:  # log.accept = "A" unquoted is TOML's table log, key accept
        values["keymap"] = _dotted_keys(values["keymap"])  # type: ignore[arg-type]
    for binding_id, keys in dict(values.get("keymap", {})).items():  # type: ignore[arg-type]
        if not isinstance(keys, str) or not keys.strip():
            raise SettingsError(
                f"{path}: [keymap] {binding_id} = {keys!r}; give the keys as a string, "
                f'e.g. {binding_id} = "ctrl+a" (several: "a,ctrl+a").'
            )
    if os.environ.get("MAILSIREN_DB"):
        database_url, where = os.environ["MAILSIREN_DB"], "MAILSIREN_DB"
    else:
        database_url = str(values.get("database_url") or f"sqlite:///{default_database_path()}")
        where = f"{path}: database_url"
    values["database_url"] = database_url_from(database_url, where)
    return Settings(**values)  # type: ignore[arg-type]


def _dotted_keys(table: dict, prefix: str = "") -> dict:
    """{"log": {"accept": "A"}} as {"log.accept": "A"}: ids may be written unquoted."""
    flat: dict = {}
    for key, value in table.items():
        if isinstance(value, dict):
            flat.update(_dotted_keys(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


DATABASE_SCHEMES = ("sqlite", "postgresql+psycopg")  # the drivers mailsiren ships with


def database_url_from(text: str, where: str = "the database URL") -> str:
    """Accept a URL mailsiren can open, or a bare file path meaning an SQLite database
    there; `where` says where the text came from, for the error a wrong scheme gets."""
    if "://" not in text:
        return f"sqlite:///{Path(text).expanduser().resolve()}"
    scheme = text.split("://", 1)[0]
    if scheme in DATABASE_SCHEMES:
        return text
    if scheme.split("+")[0] in ("postgres", "postgresql"):
        hint = f"for PostgreSQL, begin it with postgresql+psycopg:// instead of {scheme}://"
    else:
        hint = (
            "write sqlite:////absolute/path.db, a file path, or postgresql+psycopg://USER@HOST/DB"
        )
    raise SettingsError(f"{where}: {scheme}:// is not a database mailsiren can open; {hint}.")
