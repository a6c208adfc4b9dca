"""Host-wide interception: rez's own commands and shell plugins routed through rez-guard.

rez loads plugins from the `rez.plugins.<type>` entry-point groups after its
built-in ones, and a plugin of the same name replaces the built-in class. The
companion distribution `rez-guard-hooks` (see companion.py) declares such entry
points for the `env` and `guard` commands and the bash, sh, zsh, csh and tcsh
shells. docs/interception.md lists what this guards and what it cannot.
"""
