"""The test helper `settle` waits out workers, including ones a newer exclusive worker cancelled."""

from __future__ import annotations

import threading

from textual.app import App

from tests.ui.pilot import settle


class ReplacedWorkerApp(App):
    """A load whose worker, once running, causes a newer load in its group, as a reload does."""

    def __init__(self) -> None:
        super().__init__()
        self.replaced = threading.Event()
        self.loaded: list[str] = []

    def start_slow_load(self) -> None:
        self.run_worker(self.slow_load, thread=True, exclusive=True, group="load")

    def slow_load(self) -> None:
        self.call_from_thread(self.start_quick_load)
        self.replaced.wait(5)

    def start_quick_load(self) -> None:
        self.run_worker(self.quick_load, thread=True, exclusive=True, group="load")

    def quick_load(self) -> None:
        self.replaced.set()
        self.loaded.append("quick")


async def test_settle_accepts_a_worker_cancelled_by_its_replacement():
    app = ReplacedWorkerApp()
    async with app.run_test() as pilot:
        app.start_slow_load()  # settle sees this worker before it runs and is replaced
        await settle(app, pilot)
        assert app.loaded == ["quick"]
