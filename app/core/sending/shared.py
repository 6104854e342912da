"""The administrator's [Shared-Mail-Config] in gcfg format, read with file:line provenance."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from app.core.addresses import has_line_break, parse_address, parse_host_name
from app.core.intake.rules import compile_re2
from app.errors import MailsirenError

SECTION_NAMES = ("shared-mail-config", "shared-email-config")
LIST_KEYS = ("Allowed-Group", "Allowed-To")
SCALAR_KEYS = (
    "Server",
    "Port",
    "Username",
    "Password",
    "Password-File",
    "UseTLS",
    "InsecureSkipVerify",
    "Force-From",
)
KNOWN_KEYS = {key.lower(): key for key in SCALAR_KEYS + LIST_KEYS}
REQUIRED_KEYS = ("Server", "Port", "Username", "Password")
BOOLEAN_WORDS = {
    "true": True,
    "yes": True,
    "on": True,
    "1": True,
    "false": False,
    "no": False,
    "off": False,
    "0": False,
}
ESCAPES = {"\\": "\\", '"': '"', "n": "\n", "t": "\t", "b": "\b"}


@dataclass(frozen=True)
class Origin:
    """Where a value was written: a file and a line number (1-based)."""

    path: Path
    line: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}"


@dataclass(frozen=True)
class AllowedPattern:
    """One Allowed-To expression: the whole lower-cased address must match it."""

    text: str
    origin: Origin
    compiled: object = field(compare=False, repr=False)

    def admits(self, address: str) -> bool:
        return self.compiled.fullmatch(address.lower()) is not None  # type: ignore[attr-defined]


@dataclass(frozen=True)
class AllowedGroup:
    name: str
    origin: Origin


@dataclass(frozen=True)
class SharedConfig:
    """The merged shared configuration. The password is left out of repr."""

    server: str
    port: int
    username: str
    password: str = field(repr=False)
    password_key: str  # `Password` or `Password-File`: whichever set it last
    use_tls: bool
    insecure_skip_verify: bool
    force_from: str | None
    allowed_groups: tuple[AllowedGroup, ...]
    allowed_to: tuple[AllowedPattern, ...]
    origins: Mapping[str, Origin]  # scalar key (Password for either spelling) → where set
    overridden: Mapping[str, tuple[Origin, ...]]  # scalar key → earlier settings it replaced
    files: tuple[Path, ...]

    def admitting_pattern(self, address: str) -> AllowedPattern | None:
        return next((pattern for pattern in self.allowed_to if pattern.admits(address)), None)


class SharedConfigError(MailsirenError):
    """The file cannot be used; each problem names its file and line."""

    title = "Shared configuration not usable"

    def __init__(self, problems: list[str]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(self.problems))


@dataclass(frozen=True)
class SharedConfigState:
    """The result of looking for the shared configuration: never raises, always explains."""

    path: Path
    config: SharedConfig | None
    problems: tuple[str, ...] = ()

    @property
    def broken(self) -> bool:
        return bool(self.problems)


@dataclass(frozen=True)
class _Entry:
    key: str  # canonical spelling
    value: object  # converted: str, int, bool or AllowedPattern
    origin: Origin


def overlay_files(path: Path) -> list[Path]:
    """Every `*.conf` in `<path>.d/`, in name order."""
    folder = path.with_name(path.name + ".d")
    if not folder.is_dir():
        return []
    return sorted(child for child in folder.glob("*.conf") if child.is_file())


def load_shared_config(path: Path) -> SharedConfigState:
    """Read the file and its overlays; problems are reported in the state, not raised."""
    try:
        return SharedConfigState(path, read_shared_config(path))
    except SharedConfigError as error:
        return SharedConfigState(path, None, error.problems)


def read_shared_config(path: Path) -> SharedConfig | None:
    """The merged configuration, None if no file holds the section, or SharedConfigError."""
    files = ([path] if path.is_file() else []) + overlay_files(path)
    problems: list[str] = []
    entries: list[_Entry] = []
    section_origins: list[Origin] = []
    for file in files:
        try:
            text = _read_text(file)
        except SharedConfigError as error:
            problems.extend(error.problems)
            continue
        entries.extend(_parse_file(file, text, problems, section_origins))
    if not section_origins:
        if problems:
            raise SharedConfigError(problems)
        return None
    config = _build(entries, section_origins[0], tuple(files), problems)
    if problems:
        raise SharedConfigError(problems)
    return config


def _read_text(file: Path) -> str:
    try:
        data = file.read_bytes()
    except OSError as error:
        raise SharedConfigError([f"{file}: cannot be read: {error.strerror}"]) from error
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise SharedConfigError(
            [f"{file}:{line}: not valid UTF-8 (byte {data[error.start]:#04x}); save it as UTF-8"]
        ) from error


def _parse_file(
    file: Path, text: str, problems: list[str], section_origins: list[Origin]
) -> Iterator[_Entry]:
    in_section = False
    for number, raw in enumerate(text.splitlines(), start=1):
        origin = Origin(file, number)
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("["):
            in_section = _section_header(line, origin, problems)
            if in_section:
                section_origins.append(origin)
            continue
        if not in_section:
            continue  # other sections belong to other programs
        entry = _parse_entry(line, origin, problems)
        if entry is not None:
            yield entry


def _section_header(line: str, origin: Origin, problems: list[str]) -> bool:
    end = line.find("]")
    rest = line[end + 1 :].strip() if end >= 0 else ""
    if end < 0 or (rest and rest[0] not in "#;"):
        problems.append(f"{origin}: a section header is `[Name]` on a line of its own")
        return False
    name = line[1:end].strip()
    base, _, subsection = name.partition(" ")
    if base.lower() not in SECTION_NAMES:
        return False
    if subsection.strip():
        problems.append(
            f"{origin}: [{base}] takes no subsection name ({subsection.strip()}); write [{base}]"
        )
        return False
    return True


def _parse_entry(line: str, origin: Origin, problems: list[str]) -> _Entry | None:
    name, equals, rest = line.partition("=")
    name = name.strip()
    if not equals:  # gcfg: a key alone means true
        name = _strip_comment_bare(name)
    canonical = KNOWN_KEYS.get(name.lower())
    if canonical is None:
        known = ", ".join(SCALAR_KEYS + LIST_KEYS)
        problems.append(f"{origin}: unknown key {name!r} in [Shared-Mail-Config]; known: {known}")
        return None
    try:
        text = _parse_value(rest.strip()) if equals else None
        return _Entry(canonical, _convert(canonical, text, origin), origin)
    except ValueError as error:
        problems.append(f"{origin}: {canonical}: {error}")
        return None


def _strip_comment_bare(text: str) -> str:
    for index, character in enumerate(text):
        if character in "#;":
            return text[:index].strip()
    return text.strip()


def _parse_value(text: str) -> str:
    """A bare, "double-quoted" or `backtick-raw` value, with an optional trailing comment."""
    if text.startswith("`"):
        end = text.find("`", 1)
        if end < 0:
            raise ValueError("the backtick quote is not closed on this line")
        _require_only_comment(text[end + 1 :])
        return text[1:end]
    if text.startswith('"'):
        value, end = _unescape(text, 1, closing='"')
        _require_only_comment(text[end + 1 :])
        return value
    value, _ = _unescape(text, 0, closing=None)
    if '"' in value or "`" in value:
        raise ValueError("quote the whole value, not a part of it")
    return value.strip()


def _unescape(text: str, start: int, closing: str | None) -> tuple[str, int]:
    characters: list[str] = []
    index = start
    while index < len(text):
        character = text[index]
        if character == "\\":
            following = text[index + 1 : index + 2]
            if following not in ESCAPES:
                shown = "\\" + following if following else "a \\ at the end of the line"
                raise ValueError(
                    f'{shown} is not a gcfg escape (\\\\ \\" \\n \\t \\b); put a regular '
                    "expression or a value with backslashes in backticks: `...`"
                )
            characters.append(ESCAPES[following])
            index += 2
            continue
        if closing is not None and character == closing:
            return "".join(characters), index
        if closing is None and character in "#;":
            break
        characters.append(character)
        index += 1
    if closing is not None:
        raise ValueError("the double quote is not closed on this line")
    return "".join(characters), index


def _require_only_comment(rest: str) -> None:
    rest = rest.strip()
    if rest and rest[0] not in "#;":
        raise ValueError(f"unexpected text after the quoted value: {rest!r}")


def _build(
    entries: list[_Entry], section: Origin, files: tuple[Path, ...], problems: list[str]
) -> SharedConfig | None:
    scalars: dict[str, object] = {}
    origins: dict[str, Origin] = {}
    overridden: dict[str, list[Origin]] = {}
    groups: list[AllowedGroup] = []
    patterns: list[AllowedPattern] = []
    password_key = "Password"
    for entry in entries:
        value = entry.value
        if entry.key == "Allowed-Group":
            groups.append(AllowedGroup(str(value), entry.origin))
        elif entry.key == "Allowed-To":
            patterns.append(value)  # type: ignore[arg-type]
        else:
            slot = "Password" if entry.key == "Password-File" else entry.key
            if slot in origins:
                overridden.setdefault(slot, []).append(origins[slot])
            scalars[slot] = value
            origins[slot] = entry.origin
            if slot == "Password":
                password_key = entry.key
    for key in REQUIRED_KEYS:
        if key not in scalars:
            also = " (or Password-File = /path/to/file)" if key == "Password" else ""
            problems.append(
                f"{section}: [Shared-Mail-Config] lacks the required key {key}: "
                f"add a line `{key} = ...`{also}"
            )
    if problems:
        return None
    return SharedConfig(
        server=str(scalars["Server"]),
        port=int(scalars["Port"]),  # type: ignore[call-overload]
        username=str(scalars["Username"]),
        password=str(scalars["Password"]),
        password_key=password_key,
        use_tls=bool(scalars.get("UseTLS", False)),
        insecure_skip_verify=bool(scalars.get("InsecureSkipVerify", False)),
        force_from=scalars.get("Force-From"),  # type: ignore[arg-type]
        allowed_groups=tuple(groups),
        allowed_to=tuple(patterns),
        origins=origins,
        overridden={key: tuple(value) for key, value in overridden.items()},
        files=files,
    )


def _convert(key: str, value: str | None, origin: Origin) -> object:
    """The typed value of one key, or ValueError saying what is wrong with the text."""
    if key in ("UseTLS", "InsecureSkipVerify"):
        if value is None:
            return True
        word = value.lower()
        if word not in BOOLEAN_WORDS:
            raise ValueError(f"{value!r} is not a boolean; write true or false")
        return BOOLEAN_WORDS[word]
    if value is None:
        raise ValueError("needs a value: write `Key = value`")
    if not value:
        raise ValueError("the value is empty")
    if has_line_break(value):
        raise ValueError("a value cannot contain a line break")
    if key == "Server":
        return parse_host_name(value)  # an AddressError is a ValueError
    if key == "Port":
        if not value.isdigit() or not 1 <= int(value) <= 65535:
            raise ValueError(f"{value!r} is not a port: a number from 1 to 65535")
        return int(value)
    if key == "Force-From":
        return parse_address(value)
    if key == "Password-File":
        return _read_password_file(value, origin)
    if key == "Allowed-To":
        return AllowedPattern(value, origin, compile_re2(value))
    if key == "Allowed-Group" and any(character.isspace() for character in value):
        raise ValueError(f"{value!r}: a group name has no spaces; one group per line")
    return value


def _read_password_file(value: str, origin: Origin) -> str:
    path = Path(value).expanduser()
    if not path.is_absolute():
        path = origin.path.parent / path
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or str(error)
        raise ValueError(f"{path} cannot be read: {reason}") from error
    password = text.removesuffix("\n").removesuffix("\r")
    if not password:
        raise ValueError(f"{path} is empty")
    if has_line_break(password):
        raise ValueError(f"{path} holds more than one line; put only the password in it")
    return password


@dataclass(frozen=True)
class ValueLine:
    """One value of the shared configuration as it may be shown: secrets redacted."""

    key: str
    shown: str
    origin: Origin | None  # None: the default, written nowhere


def describe_values(config: SharedConfig) -> list[ValueLine]:
    """Every value with the file and line that set it; the password never appears."""
    origins = config.origins
    lines = [
        ValueLine("Server", config.server, origins["Server"]),
        ValueLine("Port", str(config.port), origins["Port"]),
        ValueLine("Username", config.username, origins["Username"]),
        ValueLine(config.password_key, "(redacted)", origins["Password"]),
        ValueLine(
            "UseTLS",
            "true (STARTTLS, required)" if config.use_tls else "false (plaintext SMTP)",
            origins.get("UseTLS"),
        ),
        ValueLine(
            "InsecureSkipVerify",
            "true (certificate NOT validated)" if config.insecure_skip_verify else "false",
            origins.get("InsecureSkipVerify"),
        ),
        ValueLine(
            "Force-From",
            config.force_from or "(not set: senders are kept)",
            origins.get("Force-From"),
        ),
    ]
    lines += [
        ValueLine("Allowed-Group", group.name, group.origin) for group in config.allowed_groups
    ]
    if not config.allowed_groups:
        lines.append(ValueLine("Allowed-Group", "(none: every user may use it)", None))
    lines += [
        ValueLine("Allowed-To", pattern.text, pattern.origin) for pattern in config.allowed_to
    ]
    if not config.allowed_to:
        lines.append(ValueLine("Allowed-To", "(none: any recipient)", None))
    return lines


def shared_warnings(config: SharedConfig) -> tuple[str, ...]:
    """What an administrator should know about this configuration's security."""
    warnings = []
    if not config.use_tls:
        warnings.append(
            "UseTLS is false: the shared user name and password cross the network unencrypted."
        )
    elif config.insecure_skip_verify:
        warnings.append(
            "InsecureSkipVerify is true: anyone on the path can pose as the server and read "
            "the shared password."
        )
    if config.port == 465:
        warnings.append(
            "Port 465 speaks implicit TLS, which the shared configuration does not use "
            "(UseTLS means STARTTLS): use port 587 or 25."
        )
    return tuple(warnings)
