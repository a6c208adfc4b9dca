name = "studio_config"

version = "1.0.0"

description = "Example studio configuration with all three command phases, a sourced script and a startup command."

authors = ["Example Studio pipeline team"]


def pre_commands():
    # pre_commands of every package run before any package's commands().
    env.STUDIO_SITE = "example_studio"


def commands():
    env.STUDIO_CONFIG_ROOT = "{root}"
    # NOTE: setup.sh is POSIX sh, so this package suits sh, bash and zsh. csh and tcsh
    # would read `NAME=value` as a command name and report it not found; no test covers them.
    source("{root}/setup.sh")
    # rez does not expand {root} or other format fields in command() strings.
    command("echo studio_config: startup command ran")


def post_commands():
    # post_commands of every package run after all packages' commands().
    env.STUDIO_CONFIG_READY = "1"
    info("studio_config: site {env.STUDIO_SITE} configured")
