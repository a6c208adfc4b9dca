"""bash shell, with rez-guard in front of every launch."""

from guard.intercept.shells import GuardedBash


def register_plugin():
    """Return the class rez registers as the `bash` shell plugin."""
    return GuardedBash
