"""The hooks are pinned to the tested rez versions and fail closed on others."""

from __future__ import annotations

import pytest
from rez.exceptions import RezError

from guard.errors import GuardError
from guard.intercept.errors import LaunchVetoed, UntestedRezVersion
from guard.intercept.versions import TESTED_REZ_VERSIONS, check_rez_version, installed_rez_version


def test_installed_rez_is_tested() -> None:
    assert installed_rez_version() in TESTED_REZ_VERSIONS
    check_rez_version()


def test_untested_version_raises() -> None:
    with pytest.raises(UntestedRezVersion) as raised:
        check_rez_version("3.5.0")
    message = str(raised.value)
    assert "3.5.0" in message
    assert TESTED_REZ_VERSIONS[0] in message
    assert "rez-guard hooks uninstall" in message
    assert "\n" not in message


def test_errors_are_rez_and_guard_errors() -> None:
    vetoed = LaunchVetoed("denied; approve it from a terminal")
    assert isinstance(vetoed, RezError)
    assert isinstance(vetoed, GuardError)
    assert str(vetoed) == vetoed.message == "denied; approve it from a terminal"
