"""rez-guard: preview, approve, launch, monitor and audit rez shells."""

__version__ = "0.1.0"
