"""Raw mail bytes → ParsedMail: decoded subject and text, HTML made readable; never raises.

Whatever a mail does to the parser, its headers survive, and text that cannot be read as
sent is listed in `defects` (the raw bytes always stay as they came)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from email import message_from_bytes
from email.headerregistry import UnstructuredHeader
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import EmailPolicy
from functools import lru_cache

MAX_HEADER_BYTES = 128 * 1024
MAX_HEADER_COUNT = 500
MAX_MATCH_TEXT = 256 * 1024
TRUNCATION_MARK = "\n[… mailsiren: the text used for matching is cut here, at 256 KiB]"
MESSAGE_ID_LENGTH = 998  # the mail.message_id column; PostgreSQL refuses longer values
# A title (an incident's, a mail's line in a list) is one line of a list: at most this many
# characters, the last an ellipsis when the subject is longer. Trackers keep a title to a
# line too (GitHub 256, Jira 255); Alertmanager's "[FIRING:n] alertname (labels…)" fits.
TITLE_LENGTH = 256
ELLIPSIS = "…"
# Structured headers (addresses, Message-ID, Content-Type…) are parsed by their grammar
# within a budget per mail; a value over MAX_STRUCTURED_HEADER, or past the budget, is read
# as plain text. CPython's parser of them is quadratic in places (100,000 quotes in To took
# 106 s; 2 KiB of them 0.08 s, the budget's worth 0.6 s), some 17 µs a byte at best.
# Values up to CHEAP_HEADER are not counted (a few hundred µs at worst); the MIME part cap
# bounds how many there are.
MAX_STRUCTURED_HEADER = 2048
STRUCTURED_BUDGET = 16 * 1024
CHEAP_HEADER = 128
MAX_MIME_PARTS = 1000  # a mail's MIME parts read; 20,000 parts took 8 s
# HTML longer than this becomes text without its layout: inscriptis takes ~1.3 s per MiB.
MAX_HTML_LAYOUT = 1024 * 1024
MAX_DEFECT_LENGTH = 300  # one defect quotes at most this much (it may quote the mail)
MAX_DEFECTS = 50
_LINE_BREAKS = re.compile(r"[\r\n]+")
NUL_SHOWN = "\u2400"  # ␀, where a NUL byte was
NUL_DEFECT = f"NUL bytes in the mail, shown as {NUL_SHOWN} (the raw source keeps them)"
KEPT = "(the raw source keeps it)"
_HEADER_END = re.compile(rb"\r?\n\r?\n")
_SURROGATE = re.compile("[\ud800-\udfff]")
_DELIMITER = re.compile(rb"^--", re.MULTILINE)


MEMO_MAX_VALUE = 512  # header values longer than this are parsed every time, never kept
_MEMO: dict[tuple[str, str], object] = {}
_budget: ContextVar[list[int] | None] = ContextVar("structured_budget", default=None)


class MemoizedDefaultPolicy(EmailPolicy):
    """`email.policy.default`, with parsed headers remembered, and structured values parsed
    by their grammar within the mail's budget, else read as plain text (every header of
    every part is parsed here).

    Alert mails repeat the same From, To and Content-Type over and over, and the header
    registry spends most of the parsing time on them. Header objects are immutable.
    """

    def header_fetch_parse(self, name, value):
        if hasattr(value, "name"):
            return super().header_fetch_parse(name, value)
        key = (name, value)
        known = _MEMO.get(key)
        if known is not None and len(value) <= CHEAP_HEADER:
            return known
        if not _within_budget(name, value):
            return _plain_header(self, name, value)
        if known is None:
            known = super().header_fetch_parse(name, value)
            if len(value) <= MEMO_MAX_VALUE:
                if len(_MEMO) >= 512:
                    _MEMO.clear()
                _MEMO[key] = known
        return known


def _within_budget(name: str, value: str) -> bool:
    """May this value be parsed by its header's grammar? (Charged to the mail's budget.)"""
    if len(value) <= CHEAP_HEADER or name.lower() not in _STRUCTURED:
        return True
    if len(value) > MAX_STRUCTURED_HEADER:
        return False
    budget = _budget.get()
    if budget is None:  # not inside parse_mail
        return True
    if budget[0] < len(value):
        return False
    budget[0] -= len(value)
    return True


def _plain_header(policy: EmailPolicy, name: str, value: str):
    """The value as unstructured text (encoded words decoded), under the header's name."""
    value = "".join(_LINE_BREAKS.split(value))
    if name.lower() == "content-disposition":  # is_attachment() reads its disposition
        value = value.partition(";")[0]
        return EmailPolicy.header_fetch_parse(policy, name, value[:CHEAP_HEADER])
    return policy.header_factory["x-mailsiren-unstructured"](name, value)


MAIL_POLICY = MemoizedDefaultPolicy()
_STRUCTURED = frozenset(
    name
    for name, kind in MAIL_POLICY.header_factory.registry.items()
    if not issubclass(kind, UnstructuredHeader)
)


@dataclass(frozen=True)
class ParsedMail:
    """What rules and screens read of a mail. Header values are decoded, without line breaks."""

    message_id: str | None
    subject: str  # whole, as decoded: rules match it
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

    @property
    def title(self) -> str:
        """The subject as a title and a list show it: at most TITLE_LENGTH characters."""
        return title_of(self.subject)


def title_of(text: str) -> str:
    """At most TITLE_LENGTH characters; a longer text ends in an ellipsis."""
    return text if len(text) <= TITLE_LENGTH else text[: TITLE_LENGTH - 1] + ELLIPSIS


def parse_mail(raw: bytes) -> ParsedMail:
    """Parse as far as possible; what could not be parsed is listed in `defects`.

    The header section is parsed on its own when the whole mail breaks the parser (a
    multipart nested 2,000 deep): the headers survive whatever the body does."""
    budget = _budget.set([STRUCTURED_BUDGET])
    try:
        return _parse_mail(raw)
    finally:
        _budget.reset(budget)


def _parse_mail(raw: bytes) -> ParsedMail:
    defects: list[str] = []
    head, rest = header_section(raw, defects)
    message = _parse(head + _first_parts(head, rest, defects), defects)
    if message is None:  # the body broke the parser: the headers alone, the body as it came
        headers = _headers(_parse_headers(head, defects), defects)
        body, truncated = _capped(_as_it_came(rest), defects)
    else:
        headers = _headers(message, defects)
        body, truncated = _capped(_body_text(message, rest, defects), defects)

    def first(name: str) -> str:
        values = headers.get(name, ())
        return values[0] if values else ""

    if "\x00" in body:
        defects.append(NUL_DEFECT)
    body = storable(body)
    message_id = first("message-id").strip()
    if len(message_id) > MESSAGE_ID_LENGTH:
        defects.append(f"header Message-ID: over {MESSAGE_ID_LENGTH} characters, cut {KEPT}")
    subject = first("subject")
    if len(subject) > TITLE_LENGTH:
        defects.append(
            f"subject of {len(subject):,} characters: titles and lists show the first "
            f"{TITLE_LENGTH - 1}, then {ELLIPSIS} (the mail shows it whole)"
        )
    references = tuple(
        token
        for name in ("in-reply-to", "references")
        for value in headers.get(name, ())
        for token in re.findall(r"<[^<>\s]+>", value)
    )
    return ParsedMail(
        message_id=message_id[:MESSAGE_ID_LENGTH] or None,
        subject=subject,
        from_=first("from"),
        to=", ".join(headers.get("to", ())),
        cc=", ".join(headers.get("cc", ())),
        headers=headers,
        body=body,
        body_truncated=truncated,
        defects=_listed(defects),
        sha256=hashlib.sha256(raw).hexdigest(),
        size=len(raw),
        references=references,
    )


def _listed(defects: list[str]) -> tuple[str, ...]:
    """Each once, each short, at most MAX_DEFECTS of them, NUL shown."""
    unique = list(dict.fromkeys(storable(one_line(defect)) for defect in defects))
    shortened = [
        defect if len(defect) <= MAX_DEFECT_LENGTH else defect[: MAX_DEFECT_LENGTH - 1] + ELLIPSIS
        for defect in unique[:MAX_DEFECTS]
    ]
    if len(unique) > MAX_DEFECTS:
        shortened.append(f"and {len(unique) - MAX_DEFECTS:,} more defects")
    return tuple(shortened)


def header_section(raw: bytes, defects: list[str]) -> tuple[bytes, bytes]:
    """(header section, the rest from the blank line on), the header section capped in size
    and count before the email package sees it. The field the size cap falls in keeps what
    fits (a 2 MiB Subject keeps its first 128 KiB); what is left out is a defect."""
    end = _HEADER_END.search(raw)
    head, rest = (raw[: end.start()], raw[end.start() :]) if end else (raw, b"")
    if len(head) > MAX_HEADER_BYTES:
        cut = MAX_HEADER_BYTES - (head[MAX_HEADER_BYTES - 1 : MAX_HEADER_BYTES] == b"\r")
        line_start = head.rfind(b"\n", 0, cut) + 1
        partial = head[line_start:cut]
        if b":" not in partial and partial[:1] not in (b" ", b"\t"):
            cut = line_start  # only part of a field's name fits: leave the field out
        name = _field_name(head, cut - 1)
        head = head[:cut]
        defects.append(
            f"header section over {MAX_HEADER_BYTES // 1024} KiB: cut in {name}, "
            f"the fields after it ignored {KEPT}"
        )
    lines = head.splitlines(keepends=True)
    starts = [index for index, line in enumerate(lines) if line[:1] not in (b" ", b"\t")]
    if len(starts) > MAX_HEADER_COUNT:
        head = b"".join(lines[: starts[MAX_HEADER_COUNT]])
        defects.append(f"more than {MAX_HEADER_COUNT} header fields: the rest ignored {KEPT}")
    return head, rest


def _first_parts(head: bytes, rest: bytes, defects: list[str]) -> bytes:
    """A multipart's body up to its MAX_MIME_PARTS-th part (a line starting with "--")."""
    for count, delimiter in enumerate(_DELIMITER.finditer(rest), 1):
        if count > MAX_MIME_PARTS + 1:  # (+1: the closing delimiter)
            if _parse_headers(head, []).get_content_maintype() != "multipart":
                return rest
            defects.append(f"more than {MAX_MIME_PARTS:,} MIME parts: the rest not read {KEPT}")
            return rest[: delimiter.start()]
    return rest


def _field_name(head: bytes, position: int) -> str:
    """The name of the header field whose text runs through `position`."""
    start = head.rfind(b"\n", 0, position + 1) + 1
    while start > 0 and head[start : start + 1] in (b" ", b"\t"):
        start = head.rfind(b"\n", 0, start - 1) + 1
    name = head[start : start + 80].partition(b":")[0].strip()
    return name.decode("ascii", "replace") or "a field"


def _parse(raw: bytes, defects: list[str]) -> EmailMessage | None:
    """The whole mail; None when the parser fails on it."""
    try:
        return message_from_bytes(raw, policy=MAIL_POLICY)  # type: ignore[return-value]
    except Exception as error:  # noqa: BLE001 - a parser bug must not lose the mail
        defects.append(f"body: {_failure(error)}: the text is the body as it came")
        return None


def _parse_headers(head: bytes, defects: list[str]) -> EmailMessage:
    try:
        return BytesParser(policy=MAIL_POLICY).parsebytes(head, headersonly=True)  # type: ignore[return-value]
    except Exception as error:  # noqa: BLE001
        defects.append(f"headers unparseable: {_failure(error)} {KEPT}")
        return EmailMessage()


def _failure(error: Exception) -> str:
    if isinstance(error, RecursionError):
        return "MIME parts nested too deep to parse"
    return f"unparseable: {type(error).__name__}: {error}"


def _as_it_came(rest: bytes) -> str:
    return rest.lstrip(b"\r\n").decode("utf-8", "replace")


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
            lambda raw_value=raw_value, name=name: _header_value(message, name, raw_value, defects),
            "".join(_LINE_BREAKS.split(str(raw_value))),
            defects,
            f"header {name}",
        )
        if "\x00" in value:
            defects.append(NUL_DEFECT)
        headers.setdefault(name.lower(), []).append(one_line(value))
    for defect in message.defects:
        defects.append(_describe_defect(defect))
    return {name: tuple(values) for name, values in headers.items()}


def _header_value(message: EmailMessage, name: str, raw_value: str, defects: list[str]) -> str:
    """The decoded value; what the decoding could not read is a defect naming the header."""
    if len(raw_value) > CHEAP_HEADER:  # parsed by grammar or not, as the budget allows
        text, found = _read_header(message.policy, name, raw_value)
    else:
        text, found = _read_short_header(message.policy, name, raw_value)
    defects.extend(found)
    return text


def _read_header(policy, name: str, raw_value: str) -> tuple[str, tuple[str, ...]]:
    header = policy.header_fetch_parse(name, raw_value)
    if name.lower() in _STRUCTURED and isinstance(header, UnstructuredHeader):
        return str(header), (f"header {name}: too long to parse by its grammar: read as text",)
    tree = getattr(header, "_parse_tree", None)  # unstructured headers keep defects only here
    found = getattr(tree, "all_defects", None) or getattr(header, "defects", ())
    return str(header), tuple(f"header {name}: {_describe_defect(defect)}" for defect in found)


_read_short_header = lru_cache(maxsize=512)(_read_header)  # alert mails repeat their headers


def one_line(text: str) -> str:
    """No CR or LF survives: a decoded header value on one line, trimmed (and NUL shown)."""
    return storable(_LINE_BREAKS.sub(" ", text).strip())


def storable(text: str) -> str:
    """Text every column takes: NUL as the visible ␀ (PostgreSQL's text holds no NUL, and a
    person should see it), and an undecodable byte left as a lone surrogate read as UTF-8 or
    shown as � (no encoder takes a lone surrogate)."""
    if "\x00" in text:
        text = text.replace("\x00", NUL_SHOWN)
    if _SURROGATE.search(text):
        try:
            text = text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        except UnicodeEncodeError:  # a surrogate no byte became
            text = _SURROGATE.sub("\ufffd", text)
    return text


def _describe_defect(defect: object) -> str:
    text = str(defect) or type(defect).__name__
    return f"{type(defect).__name__}: {text}" if text != type(defect).__name__ else text


def _capped(text: str, defects: list[str]) -> tuple[str, bool]:
    if len(text) > MAX_MATCH_TEXT:
        defects.append(
            f"text over {MAX_MATCH_TEXT // 1024} KiB: matched and kept up to there {KEPT}"
        )
        return text[:MAX_MATCH_TEXT] + TRUNCATION_MARK, True
    return text, False


def _body_text(message: EmailMessage, rest: bytes, defects: list[str]) -> str:
    """The text/plain part, else the HTML one, else any text part; never raises."""
    try:
        part = message.get_body(preferencelist=("plain", "html"))
        if part is None:  # (a part is falsy when it has no headers: compare with None)
            part = _any_text_part(message, defects)
        if part is None:
            return _without_text_part(message, rest, defects)
        text = _part_text(part, defects)
        for sub in part.walk():  # after decoding: decoding adds the part's defects
            defects.extend(_describe_defect(defect) for defect in sub.defects)
        if part.get_content_subtype() == "html":
            text = html_to_text(text, defects)
        return text
    except Exception as error:  # noqa: BLE001 - a body the parser cannot walk
        defects.append(f"body: {_failure(error)}: the text is the body as it came")
        return _as_it_came(rest)


def _any_text_part(message: EmailMessage, defects: list[str]) -> EmailMessage | None:
    """No inline text/plain or text/html: the first text part (an attachment, a forwarded
    mail's)."""
    for part in message.walk():
        if not part.is_multipart() and part.get_content_maintype() == "text":
            defects.append(
                f"body: no inline text/plain or text/html part: the text is the "
                f"{part.get_content_type()} part's"
            )
            return part  # type: ignore[return-value]
    return None


def _without_text_part(message: EmailMessage, rest: bytes, defects: list[str]) -> str:
    """A multipart whose parts were never found is its body as it came; else no text."""
    if message.get_content_maintype() == "multipart" and not message.is_multipart():
        defects.append("body: a multipart whose parts were not found: its body as it came")
        payload = message.get_payload(decode=True)
        return payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
    if rest.strip():
        kinds = sorted({part.get_content_type() for part in message.walk()})
        defects.append(f"body: no text part ({', '.join(kinds)}): no text to match {KEPT}")
    return ""


def _part_text(part: EmailMessage, defects: list[str]) -> str:
    try:
        text = part.get_content()
    except Exception as error:  # noqa: BLE001 - unknown charset, broken encoding
        defects.append(
            f"body: charset {part.get_content_charset() or 'us-ascii'!r} could not be used "
            f"({type(error).__name__}); decoded as UTF-8 with replacement characters"
        )
        payload = part.get_payload(decode=True)
        if isinstance(payload, bytes):
            return payload.decode("utf-8", "replace")
        return str(part.get_payload())
    if "\ufffd" in text:
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes) or "\ufffd".encode() not in payload:
            charset = part.get_content_charset() or "us-ascii"
            defects.append(f"body: bytes not valid in charset {charset!r}, shown as \ufffd {KEPT}")
    return text


_HIDDEN_TAGS = frozenset({"head", "script", "style", "template"})
_BLOCK_TAGS = frozenset({
    "address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt", "fieldset",
    "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header",
    "hr", "li", "main", "nav", "ol", "p", "pre", "section", "table", "tbody", "td", "tfoot",
    "th", "thead", "tr", "ul",
})  # fmt: skip


def html_to_text(html: str, defects: list[str] | None = None) -> str:
    """HTML as readable text (inscriptis keeps table layout); a link reads `text (url)`.

    HTML the layout engine cannot take whole (nested deeper than libxml2's 256 levels,
    over MAX_HTML_LAYOUT, or failing) is read as plain text instead, and `defects` says so."""
    if not html.strip():
        return ""
    noted = defects if defects is not None else []
    if len(html) > MAX_HTML_LAYOUT:
        noted.append(
            f"body: HTML over {MAX_HTML_LAYOUT // 1024 // 1024} MiB: text without its layout"
        )
        return _markup_text(html, noted)
    try:
        text = _laid_out(html)
    except Exception as error:  # noqa: BLE001 - read the text another way, and say so
        reason = _failure(error) if isinstance(error, RecursionError) else type(error).__name__
        noted.append(
            f"body: HTML the layout engine could not read ({reason}): text without its layout"
        )
        return _markup_text(html, noted)
    if text is None:
        noted.append("body: HTML nested over 255 elements deep: text without its layout")
        return _markup_text(html, noted)
    return "\n".join(line.rstrip() for line in text.splitlines()).strip("\n")


def _laid_out(html: str) -> str | None:
    """inscriptis's text; None when libxml2 left part of the document out (its depth limit)."""
    from inscriptis.html_engine import Inscriptis
    from inscriptis.model.config import ParserConfig
    from inscriptis.model.tag import CustomHtmlTagHandlerMapping
    from lxml.etree import ErrorTypes, ParserError
    from lxml.html import HTMLParser, document_fromstring

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
    content = re.sub(r"^<\?xml [^>]+?\?>", "", html.strip(), count=1)  # as inscriptis does
    parser = HTMLParser()
    try:
        tree = document_fromstring(content, parser=parser)
    except ParserError:
        tree = document_fromstring("<pre>" + content + "</pre>", parser=parser)
    if any(error.type == ErrorTypes.ERR_RESOURCE_LIMIT for error in parser.error_log):
        return None
    return Inscriptis(tree, config).get_text()


class _TextOfMarkup:
    """An lxml parser target: the text of HTML, blocks on their own lines and links as
    `text (url)`; no tree is built, so no depth limit applies."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.hidden = 0
        self.links: list[str] = []

    def start(self, tag: str, attrib: Mapping[str, str]) -> None:
        if tag in _HIDDEN_TAGS:
            self.hidden += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")
        if tag == "a":
            self.links.append(attrib.get("href") or "")

    def end(self, tag: str) -> None:
        if tag in _HIDDEN_TAGS:
            self.hidden = max(0, self.hidden - 1)
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")
        elif tag == "a" and self.links:
            target = self.links.pop()
            if target and not target.startswith("#") and not self.hidden:
                self.parts.append(f" ({target})")

    def data(self, data: str) -> None:
        if not self.hidden:
            self.parts.append(data)

    def comment(self, text: str) -> None:
        pass

    def close(self) -> str:
        return "".join(self.parts)


def _markup_text(html: str, defects: list[str]) -> str:
    """HTML's text in linear time, whatever its depth; the markup as is if even that fails."""
    from lxml.etree import HTMLParser, fromstring

    try:
        parser = HTMLParser(target=_TextOfMarkup(), huge_tree=True, encoding="utf-8")
        text = fromstring(html.encode("utf-8", "replace"), parser)
    except Exception as error:  # noqa: BLE001
        defects.append(f"body: HTML unreadable ({type(error).__name__}): shown as markup")
        return html
    lines = [" ".join(line.split()) for line in str(text).splitlines()]
    kept = [line for index, line in enumerate(lines) if line or (index and lines[index - 1])]
    return "\n".join(kept).strip("\n")
