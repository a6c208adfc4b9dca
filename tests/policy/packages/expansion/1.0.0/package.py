name = "expansion"
version = "1.0.0"
description = "Sets values the shell expands: command substitution and user variables."

def commands():
    env.WHO = "$(id -un)"
    env.HOST = "`hostname`"
    env.DATA = "$HOME/data"
    env.OWNER = "${USER:-nobody}"
    env.OWN_ROOT = "$REZ_EXPANSION_ROOT/share"
