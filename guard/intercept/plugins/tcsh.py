"""tcsh shell, with rez-guard in front of every launch."""

from guard.intercept.shells import GuardedTCSH


def register_plugin():
    """Return the class rez registers as the `tcsh` shell plugin."""
    return GuardedTCSH
