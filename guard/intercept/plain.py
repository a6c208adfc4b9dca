"""rez's own shell classes, for the guard's pipeline to write and launch with.

When the hooks are installed, rez's `create_shell` returns the guarded classes
of guard/intercept/shells.py. The guard's own pipeline has already shown and
approved the plan, so it renders and launches with the class underneath.
"""

from __future__ import annotations

from rez.shells import Shell, get_shell_class

# The guarded classes name their rez base class in this attribute.
PLAIN_CLASS_ATTRIBUTE = "guard_plain_class"


def plain_shell_class(name: str) -> type[Shell]:
    """Return rez's shell class for `name`, skipping rez-guard's override when installed."""
    registered = get_shell_class(name)
    return getattr(registered, PLAIN_CLASS_ATTRIBUTE, None) or registered


def create_plain_shell(name: str) -> Shell:
    """Return a new instance of rez's own shell class for `name`."""
    return plain_shell_class(name)()
