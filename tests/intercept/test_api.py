"""guard.intercept.api.launch runs the isolated pipeline for Python launchers."""

from __future__ import annotations

from pathlib import Path

import pytest

from guard.decide import Verdict
from guard.errors import Denied, UsageError
from guard.intercept.api import launch
from tests.conftest import EXAMPLE_PACKAGES
from tests.guard_run import event_record, last_session

PATHS = str(EXAMPLE_PACKAGES)


class AnsweringUI:
    """A LaunchUI that records what it was shown and gives one answer."""

    def __init__(self, verdict: Verdict) -> None:
        self.verdict = verdict
        self.previews: list[str] = []

    def show(self, text: str) -> None:
        self.previews.append(text)

    def output(self, text: str) -> None:
        self.previews.append(text)

    def ask(self, preview: str, details: str, typed: bool) -> Verdict:
        self.previews.append(preview)
        return self.verdict


def test_launch_denied_without_terminal(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    with pytest.raises(Denied, match="no terminal"):
        launch(["studio_app"], ["touch", str(marker)], paths=PATHS, interactive=False, ui=AnsweringUI(Verdict.DENY))
    assert not marker.exists()
    assert event_record(last_session(), "decision")["decided_by"] == "no_terminal"


def test_launch_asks_the_given_ui(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    ui = AnsweringUI(Verdict.APPROVE_ONCE)
    code = launch(["studio_app"], ["touch", str(marker)], paths=PATHS, interactive=True, ui=ui)
    assert code == 0
    assert marker.exists()
    assert any("STUDIO_APP_HOME" in text for text in ui.previews)
    assert event_record(last_session(), "decision")["decided_by"] == "user"


def test_launch_passes_exit_code() -> None:
    code = launch(["studio_app"], "exit 6", paths=PATHS, yes=True, ui=AnsweringUI(Verdict.DENY))
    assert code == 6


def test_launch_rejects_unknown_option() -> None:
    with pytest.raises(UsageError, match="no_such_option"):
        launch(["studio_app"], ["true"], no_such_option=True)


def test_launch_rejects_reserved_option() -> None:
    with pytest.raises(UsageError, match="argv"):
        launch(["studio_app"], ["true"], argv=("false",))
