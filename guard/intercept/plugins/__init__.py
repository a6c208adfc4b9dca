"""The modules that rez-guard-hooks' entry points name: one per rez plugin.

rez loads each entry point as a module and calls its `register_plugin()` to
get the plugin class, so every plugin needs a module of its own.
"""

import signal


def restore_interrupt_handling() -> None:
    """Give Ctrl-C back to rez-guard, which denies at the prompt and waits for a running shell.

    rez's command line installs a SIGINT handler that signals its whole process
    group and exits 1 at once, which would end rez-guard before its audit records.
    """
    signal.signal(signal.SIGINT, signal.default_int_handler)
