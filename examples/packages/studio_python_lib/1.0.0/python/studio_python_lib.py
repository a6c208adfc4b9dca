"""Tiny shared library of the example studio, installed as version 1.0.0."""

VERSION = "1.0.0"


def greeting(user: str) -> str:
    """Return a one-line greeting that names the library version."""
    return f"hello {user} from studio_python_lib {VERSION}"
