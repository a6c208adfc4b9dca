"""csh shell, with rez-guard in front of every launch."""

from guard.intercept.shells import GuardedCSH


def register_plugin():
    """Return the class rez registers as the `csh` shell plugin."""
    return GuardedCSH
