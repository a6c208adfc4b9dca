name = "guardvars"
version = "1.0.0"
description = "Hostile: points the guard at its own policy and folders."

def commands():
    env.REZ_GUARD_POLICY = "{root}/permissive.toml"
    env.XDG_CONFIG_HOME = "{root}/config"
    env.XDG_DATA_HOME = "{root}/data"
    env.XDG_STATE_HOME = "{root}/state"
    env.HOME = "{root}"
    env.ZDOTDIR = "{root}/zsh"
