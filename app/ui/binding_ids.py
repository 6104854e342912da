"""Every Binding the UI defines, by id (for keymaps, the help and README), and the check of a
user's `[keymap]` against them."""

from __future__ import annotations

import difflib
import importlib
import inspect
import pkgutil
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from textual.binding import Binding, BindingType
from textual.dom import DOMNode
from textual.keys import Keys, _character_to_key, key_to_character

MODIFIERS = ("ctrl", "shift", "alt", "meta", "super", "hyper")
KEY_NAMES = frozenset(
    {key.value.rpartition("+")[2] for key in Keys}
    | {_character_to_key(chr(code)) for code in range(33, 127)}
)


@dataclass(frozen=True)
class DefinedBinding:
    """A binding as written in a class's BINDINGS: its id, default keys and description."""

    id: str
    keys: str
    description: str
    owner: type[DOMNode]


def own_bindings(cls: type[DOMNode]) -> list[Binding]:
    """The bindings written in this class's own BINDINGS (not inherited), keys unsplit."""
    written: list[BindingType] = cls.__dict__.get("BINDINGS", [])
    return [item if isinstance(item, Binding) else Binding(*item) for item in written]


def ui_classes() -> Iterator[type[DOMNode]]:
    """The App, every screen, modal and widget of app.ui, each once, in module order."""
    import app.ui

    seen: set[type] = set()
    names = sorted(info.name for info in pkgutil.walk_packages(app.ui.__path__, "app.ui."))
    for name in names:
        module = importlib.import_module(name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ == name and issubclass(cls, DOMNode) and cls not in seen:
                seen.add(cls)
                yield cls


def defined_bindings() -> list[DefinedBinding]:
    """Every binding with an id that the UI's classes define, each id once, sorted by id."""
    found: dict[str, DefinedBinding] = {}
    for cls in ui_classes():
        for binding in own_bindings(cls):
            if binding.id and binding.id not in found:
                found[binding.id] = DefinedBinding(
                    binding.id, binding.key, binding.description, cls
                )
    return sorted(found.values(), key=lambda defined: defined.id)


def key_problem(keys: str) -> str:
    """Why a keymap's keys cannot be bound ("" when they can), e.g. "ctrl+" or "fn+x"."""
    for key in (part.strip() for part in keys.split(",")):
        if not key:
            return f"{keys!r} has an empty key (keys are separated by commas)"
        *modifiers, name = key.split("+")
        unknown = [modifier for modifier in modifiers if modifier not in MODIFIERS]
        if unknown:
            return f"{key!r}: {unknown[0]!r} is no modifier ({', '.join(MODIFIERS)})"
        if not name:
            return f"{key!r} names no key after its modifier"
        if len(name) != 1 and name not in KEY_NAMES:
            near = difflib.get_close_matches(name, KEY_NAMES, n=3)
            hint = f"; did you mean {' or '.join(near)}?" if near else ""
            return f"{key!r}: {name!r} is no key name{hint}"
    return ""


def keymap_problems(keymap: Mapping[str, str], known_ids: list[str]) -> list[str]:
    """One sentence per keymap entry that names no binding id or no key."""
    problems = []
    for binding_id, keys in keymap.items():
        if binding_id not in known_ids:
            near = difflib.get_close_matches(binding_id, known_ids, n=3, cutoff=0.5)
            hint = f"; did you mean {', '.join(near)}?" if near else ""
            problems.append(f"{binding_id!r} is no binding id{hint}")
        elif problem := key_problem(keys):
            problems.append(f"{binding_id} = {keys!r}: {problem}")
    return problems


def readme_key(key: str) -> str:
    """A key as README writes it: the character when it prints (`?`, `/`), else its name."""
    character = key_to_character(key)
    if character and character.isprintable() and not character.isspace():
        return character
    return key


def readme_table() -> str:
    """README's table of binding ids (`python -m app.ui.binding_ids` prints it)."""
    lines = ["| binding id | default keys | does |", "| --- | --- | --- |"]
    for defined in defined_bindings():
        keys = ", ".join(f"`{readme_key(key.strip())}`" for key in defined.keys.split(","))
        does = defined.description.replace("|", "\\|")
        lines.append(f"| `{defined.id}` | {keys} | {does} |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(readme_table())
