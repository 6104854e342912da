"""config.toml's UI settings: time, bell, run_serve and [keymap] read as written, and a
wrong value named with where it is and how to write it."""

from __future__ import annotations

import pytest

from app import paths


def write_settings(text: str) -> None:
    paths.settings_file().parent.mkdir(parents=True, exist_ok=True)
    paths.settings_file().write_text(text)


def test_the_ui_settings_default_to_local_time_no_bell_and_a_serve():
    settings = paths.load_settings()
    assert (settings.time, settings.bell, settings.run_serve, settings.keymap) == (
        "local", False, True, {},
    )  # fmt: skip


def test_the_ui_settings_are_read_as_written():
    write_settings('time = "utc"\nbell = true\nrun_serve = false\n[keymap]\n"log.accept" = "A"\n')
    settings = paths.load_settings()
    assert (settings.time, settings.bell, settings.run_serve) == ("utc", True, False)
    assert settings.keymap == {"log.accept": "A"}


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ('time = "paris"\n', 'write time = "local" or time = "utc"'),
        ('bell = "yes"\n', "'bell' must be a boolean (true or false)"),
        ("run_serve = 1\n", "'run_serve' must be a boolean"),
        ('keymap = "A"\n', "'keymap' must be a table"),
        ('[keymap]\n"log.accept" = 1\n', 'give the keys as a string, e.g. log.accept = "ctrl+a"'),
        # a traceback from SQLAlchemy before (no such dialect, or no such driver)
        ('database_url = "postgres://u@h/db"\n', "begin it with postgresql+psycopg://"),
        ('database_url = "mysql://u@h/db"\n', "mysql:// is not a database mailsiren can open"),
    ],
)
def test_a_wrong_ui_setting_is_named_with_its_file_and_how_to_write_it(text, said):
    write_settings(text)
    with pytest.raises(paths.SettingsError) as error:
        paths.load_settings()
    assert said in str(error.value) and str(paths.settings_file()) in str(error.value)
