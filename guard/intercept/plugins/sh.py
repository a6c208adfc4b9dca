"""sh shell, with rez-guard in front of every launch."""

from guard.intercept.shells import GuardedSH


def register_plugin():
    """Return the class rez registers as the `sh` shell plugin."""
    return GuardedSH
