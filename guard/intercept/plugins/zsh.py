"""zsh shell, with rez-guard in front of every launch."""

from guard.intercept.shells import GuardedZsh


def register_plugin():
    """Return the class rez registers as the `zsh` shell plugin."""
    return GuardedZsh
