"""rez's own work around the recording child: values the parent finds before the fork replace lookups in the child."""

from __future__ import annotations

import getpass
import pwd

import pytest

from rez.system import System, system

from guard.isolation import run_isolated
from guard.sandbox.rezwork import prepare_in_parent

_REAL_GETUSER = getpass.getuser


def _no_passwd_lookup(uid: int) -> pwd.struct_passwd:
    raise AssertionError(f"the child read the passwd database for uid {uid}")


def _user_in_child() -> str:
    # Only the child's copy of the module is changed: it is a forked process.
    pwd.getpwuid = _no_passwd_lookup
    return getpass.getuser()


def test_child_user_without_passwd_lookup(monkeypatch):
    # Without these variables getpass reads the passwd database, which can open a socket to
    # nscd or sssd. The sandbox would deny it and report it as if package code had tried it.
    for variable in ("USER", "LOGNAME", "LNAME", "USERNAME"):
        monkeypatch.delenv(variable, raising=False)
    prepare_in_parent()

    result = run_isolated(_user_in_child)

    assert result.failure is None, result.failure
    assert result.value == system.user
    assert result.report.denied == ()


def _user_lookup_is_real() -> bool:
    return getpass.getuser is _REAL_GETUSER


def _no_user_name(self: System) -> str:
    raise KeyError("getpwuid(): uid not found")


def test_child_without_user_name_keeps_getpass(monkeypatch: pytest.MonkeyPatch):
    # A user with no name fails in rez's own call later, not while the child confines itself.
    monkeypatch.setattr(System, "user", property(_no_user_name))

    result = run_isolated(_user_lookup_is_real)

    assert result.failure is None, result.failure
    assert result.value is True
