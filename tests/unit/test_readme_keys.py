"""README's "Keys and keymap" stays true: its table is every binding id the UI defines, with
its default keys, and its [keymap] example names real ids and keys."""

from __future__ import annotations

import re
import tomllib

from app.ui.binding_ids import defined_bindings, keymap_problems, readme_table
from tests.unit.test_readme import ROOT


def keymap_section() -> str:
    text = (ROOT / "README.md").read_text()
    return re.search(r"^### Keys and keymap\n(.*?)(?=^##? )", text, flags=re.S | re.M).group(1)


def test_the_readme_table_lists_every_binding_id_with_its_keys():
    shown = [line for line in keymap_section().splitlines() if line.startswith("|")]
    expected = readme_table().splitlines()
    assert shown == expected, (
        "README's binding table differs from the code: paste the output of "
        "`.venv/bin/python -m app.ui.binding_ids` into README's Keys and keymap"
    )


def test_every_binding_id_is_unique_and_described():
    defined = defined_bindings()
    assert len(defined) > 80
    assert all(binding.description for binding in defined)
    assert len({binding.id for binding in defined}) == len(defined)


def test_the_readme_keymap_example_names_real_ids_and_keys():
    [block] = re.findall(r"```toml\n(.*?)```", keymap_section(), flags=re.S)
    keymap = tomllib.loads(block)["keymap"]
    assert keymap and not keymap_problems(keymap, [binding.id for binding in defined_bindings()])


def test_keymap_ids_may_be_written_unquoted_in_config_toml():
    from app import paths

    paths.settings_file().parent.mkdir(parents=True, exist_ok=True)
    paths.settings_file().write_text('[keymap]\nlog.accept = "A"\n"mode.admin" = "f5"\n')
    assert paths.load_settings().keymap == {"log.accept": "A", "mode.admin": "f5"}
