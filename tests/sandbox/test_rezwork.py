"""rez's own work around the recording child: values the parent finds before the fork replace lookups in the child."""

from __future__ import annotations

import getpass
import pwd

from rez.system import system

from guard.isolation import run_isolated
from guard.sandbox.rezwork import prepare_in_parent


def _no_passwd_lookup(uid: int) -> pwd.struct_passwd:
    raise AssertionError(f"the child read the passwd database for uid {uid}")


def _user_in_child() -> str:
    # Only the child's copy of the module is changed: it is a forked process.
    pwd.getpwuid = _no_passwd_lookup
    return getpass.getuser()


def test_child_user_name_needs_no_passwd_lookup(monkeypatch):
    # Without these variables getpass reads the passwd database, which can open a
    # socket to nscd or sssd: the sandbox would deny it and report package code for it.
    for variable in ("USER", "LOGNAME", "LNAME", "USERNAME"):
        monkeypatch.delenv(variable, raising=False)
    prepare_in_parent()

    result = run_isolated(_user_in_child)

    assert result.failure is None, result.failure
    assert result.value == system.user
    assert result.report.denied == ()
