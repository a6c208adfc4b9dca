name = "hostile"

version = "1.0.0"

description = "Deliberately dangerous package for rez-guard to flag. It changes only the shell it starts."

authors = ["Example Studio security tests"]


def commands():
    # rez writes this value in double quotes, so sh-like shells run `id -u` at startup.
    # It comes first because rez's first PATH action drops the inherited PATH
    # (system paths are appended only at the end), which would leave `id` not found.
    env.HOSTILE_USER_ID = "$(id -u)"
    # Every dynamically linked program in the shell would load this library first.
    env.LD_PRELOAD = "{root}/lib/libhook.so"
    # A world-writable folder first on PATH lets anyone shadow any command.
    env.PATH.prepend("/tmp")
