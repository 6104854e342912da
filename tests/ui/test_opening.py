"""`mailsiren` draws its first frame before the database opens, then shows the log."""

from __future__ import annotations

import threading
from dataclasses import replace

import pytest

from app import paths
from app.core.store.db import DatabaseError
from app.server.supervisor import ServeSupervisor
from app.ui.app import MailsirenApp
from app.ui.screens.area import OpeningScreen
from app.ui.screens.incidents import IncidentsScreen
from app.ui.widgets.incident_table import IncidentTable
from tests.conftest import free_port
from tests.ui.pilot import settle, workers_done


async def test_the_log_comes_once_a_worker_has_opened_the_database(database_url, monkeypatch):
    from app.core import workspace as workspace_module

    proceed = threading.Event()
    real_open = workspace_module.open_workspace

    def held_open(settings):  # the test decides when the database opens
        assert proceed.wait(30), "the test never let the database open"
        return real_open(settings)

    monkeypatch.setattr(workspace_module, "open_workspace", held_open)
    started = []
    monkeypatch.setattr("subprocess.Popen", lambda *args, **kwargs: started.append(args))
    settings = replace(paths.load_settings(), database_url=database_url)
    supervisor = ServeSupervisor(database_url, paths.data_dir() / "serve.log", start=True)
    app = MailsirenApp(settings=settings, serve=supervisor)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, OpeningScreen) and app.workspace is None
        await pilot.press("2")  # an area's key before the database is open does nothing
        assert isinstance(app.screen, OpeningScreen)
        assert not started  # serve comes after the key file and the schema
        proceed.set()
        await settle(app, pilot)
        assert isinstance(app.screen, IncidentsScreen)
        assert len(started) == 1 and started[0][0][-1] == "serve"
        assert app.screen.query_one(IncidentTable).row_count == 0
        assert app.sub_title.startswith(app.workspace.user.name)
        await pilot.press("2")  # the areas work now
        assert app.current_mode == "sources"
    app.workspace.close()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_a_database_that_cannot_be_opened_ends_the_app_with_its_error(tmp_path, backend):
    if backend == "sqlite":
        not_a_database = tmp_path / "mailsiren.db"
        not_a_database.write_bytes(b"this is not an SQLite file" * 100)
        url = f"sqlite:///{not_a_database}"
    else:  # nothing listens on that port
        url = f"postgresql+psycopg://mailsiren@127.0.0.1:{free_port()}/mailsiren"
    app = MailsirenApp(settings=replace(paths.load_settings(), database_url=url))
    async with app.run_test(size=(120, 36)) as pilot:
        for _ in range(200):  # the worker starts after the first frame: wait for its end
            await workers_done(app)
            if app.opening_failure is not None or not app.is_running:
                break
            await pilot.pause()
    assert isinstance(app.opening_failure, DatabaseError)
    assert app.return_code == 1 and app.workspace is None
