"""Raw mail bytes → ParsedMail: decoded subject and text, HTML made readable; never raises."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import EmailPolicy
from functools import lru_cache

MAX_HEADER_BYTES = 128 * 1024
MAX_HEADER_COUNT = 500
MAX_MATCH_TEXT = 256 * 1024
TRUNCATION_MARK = "\n[… mailsiren: the text used for matching is cut here, at 256 KiB]"
MESSAGE_ID_LENGTH = 998  # the mail.message_id column; PostgreSQL refuses longer values
_LINE_BREAKS = re.compile(r"[\r\n]+")
NUL_SHOWN = "\u2400"  # ␀, where a NUL byte was
NUL_DEFECT = f"NUL bytes in the mail, shown as {NUL_SHOWN} (the raw source keeps them)"
_HEADER_END = re.compile(rb"\r?\n\r?\n")


MEMO_MAX_VALUE = 512  # header values longer than this are parsed every time, never kept


class MemoizedDefaultPolicy(EmailPolicy):
    """`email.policy.default`, with parsed headers remembered.

    Alert mails repeat the same From, To and Content-Type over and over, and the header
    registry spends most of the parsing time on them. Header objects are immutable.
    """

    def header_fetch_parse(self, name, value):
        if hasattr(value, "name") or len(value) > MEMO_MAX_VALUE:
            return super().header_fetch_parse(name, value)
        return _parsed_header(self, name, value)


@lru_cache(maxsize=512)
def _parsed_header(policy: EmailPolicy, name: str, value: str):
    return EmailPolicy.header_fetch_parse(policy, name, value)


MAIL_POLICY = MemoizedDefaultPolicy()


@dataclass(frozen=True)
class ParsedMail:
    """What rules and screens read of a mail. Header values are decoded, without line breaks."""

    message_id: str | None
    subject: str
    from_: str
    to: str
    cc: str
    headers: Mapping[str, tuple[str, ...]]  # lower-case name → every value, in order
    body: str  # the text used for matching (capped at MAX_MATCH_TEXT, marked when cut)
    body_truncated: bool
    defects: tuple[str, ...] = ()
    sha256: str = ""
    size: int = 0
    references: tuple[str, ...] = ()

    def header(self, name: str) -> str:
        """Every value of the header, joined by ', ' (empty when absent)."""
        return ", ".join(self.headers.get(name.lower(), ()))


def parse_mail(raw: bytes) -> ParsedMail:
    """Parse as far as possible; what could not be parsed is listed in `defects`."""
    defects: list[str] = []
    message = _parse_capped(raw, defects)
    headers = _headers(message, defects)

    def first(name: str) -> str:
        values = headers.get(name, ())
        return values[0] if values else ""

    body, truncated = _body_text(message, defects)
    if "\x00" in body:
        defects.append(NUL_DEFECT)
    body = shown_nul(body)
    message_id = first("message-id").strip()[:MESSAGE_ID_LENGTH] or None
    references = tuple(
        token
        for name in ("in-reply-to", "references")
        for value in headers.get(name, ())
        for token in re.findall(r"<[^<>\s]+>", value)
    )
    return ParsedMail(
        message_id=message_id,
        subject=first("subject"),
        from_=first("from"),
        to=", ".join(headers.get("to", ())),
        cc=", ".join(headers.get("cc", ())),
        headers=headers,
        body=body,
        body_truncated=truncated,
        defects=tuple(dict.fromkeys(shown_nul(defect) for defect in defects)),
        sha256=hashlib.sha256(raw).hexdigest(),
        size=len(raw),
        references=references,
    )


def _parse_capped(raw: bytes, defects: list[str]) -> EmailMessage:
    """Cap the header section (size and count) before the email package sees it."""
    end = _HEADER_END.search(raw)
    head, rest = (raw[: end.start()], raw[end.start() :]) if end else (raw, b"")
    if len(head) > MAX_HEADER_BYTES:
        head = head[: head.rfind(b"\n", 0, MAX_HEADER_BYTES) + 1 or MAX_HEADER_BYTES]
        defects.append(f"header section over {MAX_HEADER_BYTES // 1024} KiB: the rest ignored")
    lines = head.splitlines(keepends=True)
    starts = [index for index, line in enumerate(lines) if line[:1] not in (b" ", b"\t")]
    if len(starts) > MAX_HEADER_COUNT:
        head = b"".join(lines[: starts[MAX_HEADER_COUNT]])
        defects.append(f"more than {MAX_HEADER_COUNT} header fields: the rest ignored")
    try:
        return message_from_bytes(head + rest, policy=MAIL_POLICY)  # type: ignore[return-value]
    except Exception as error:  # noqa: BLE001 - a parser bug must not lose the mail
        defects.append(f"unparseable: {type(error).__name__}: {error}")
        return EmailMessage()


def _safely(action: Callable[[], str], fallback: str, defects: list[str], what: str) -> str:
    try:
        return action()
    except Exception as error:  # noqa: BLE001
        defects.append(f"{what}: {type(error).__name__}: {error}")
        return fallback


def _headers(message: EmailMessage, defects: list[str]) -> dict[str, tuple[str, ...]]:
    headers: dict[str, list[str]] = {}
    for name, raw_value in message.raw_items():
        value = _safely(
            lambda raw_value=raw_value, name=name: str(
                message.policy.header_fetch_parse(name, raw_value)
            ),
            str(raw_value),
            defects,
            f"header {name}",
        )
        if "\x00" in value:
            defects.append(NUL_DEFECT)
        headers.setdefault(name.lower(), []).append(one_line(value))
    for defect in message.defects:
        defects.append(_describe_defect(defect))
    return {name: tuple(values) for name, values in headers.items()}


def one_line(text: str) -> str:
    """No CR or LF survives: a decoded header value on one line, trimmed (and NUL shown)."""
    return shown_nul(_LINE_BREAKS.sub(" ", text).strip())


def shown_nul(text: str) -> str:
    """NUL as the visible ␀: PostgreSQL's text holds no NUL, and a person should see it."""
    return text.replace("\x00", NUL_SHOWN) if "\x00" in text else text


def _describe_defect(defect: object) -> str:
    text = str(defect) or type(defect).__name__
    return f"{type(defect).__name__}: {text}" if text != type(defect).__name__ else text


def _body_text(message: EmailMessage, defects: list[str]) -> tuple[str, bool]:
    try:
        part = message.get_body(preferencelist=("plain", "html"))
    except Exception as error:  # noqa: BLE001
        defects.append(f"body: {type(error).__name__}: {error}")
        part = None
    if part is None:
        return "", False
    for sub in part.walk():
        defects.extend(_describe_defect(defect) for defect in sub.defects)
    text = _part_text(part, defects)
    if part.get_content_subtype() == "html":
        text = html_to_text(text)
    if len(text) > MAX_MATCH_TEXT:
        return text[:MAX_MATCH_TEXT] + TRUNCATION_MARK, True
    return text, False


def _part_text(part: EmailMessage, defects: list[str]) -> str:
    try:
        return part.get_content()
    except Exception as error:  # noqa: BLE001 - unknown charset, broken encoding
        charset = part.get_content_charset() or "us-ascii"
        defects.append(
            f"body: charset {charset!r} could not be used ({type(error).__name__}); "
            "decoded as UTF-8 with replacement characters"
        )
        payload = part.get_payload(decode=True)
        if isinstance(payload, bytes):
            return payload.decode("utf-8", "replace")
        return str(part.get_payload())


def html_to_text(html: str) -> str:
    """HTML as readable text (inscriptis keeps table layout); a link reads `text (url)`."""
    from inscriptis import get_text
    from inscriptis.model.config import ParserConfig
    from inscriptis.model.tag import CustomHtmlTagHandlerMapping

    if not html.strip():
        return ""

    def link_start(state, attrs: dict) -> None:
        state.link_target = attrs.get("href", "") or ""

    def link_end(state) -> None:
        if state.link_target and not state.link_target.startswith("#"):
            state.tags[-1].write(f" ({state.link_target})")

    config = ParserConfig(
        custom_html_tag_handler_mapping=CustomHtmlTagHandlerMapping(
            start_tag_mapping={"a": link_start}, end_tag_mapping={"a": link_end}
        )
    )
    try:
        text = get_text(html, config)
    except Exception:  # noqa: BLE001 - a parser failure leaves the markup readable as is
        return html
    return "\n".join(line.rstrip() for line in text.splitlines()).strip("\n")
