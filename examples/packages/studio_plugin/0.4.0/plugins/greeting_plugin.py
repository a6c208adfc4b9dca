"""Example studio_app plugin. Nothing loads it, because it only gives the plugin folder some content."""


def register() -> str:
    """Return the name under which studio_app would list this plugin."""
    return "greeting"
