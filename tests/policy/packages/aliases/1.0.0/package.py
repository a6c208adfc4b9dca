name = "aliases"
version = "1.0.0"
description = "Defines aliases: two that replace a command or builtin, one harmless."

def commands():
    alias("sudo", "echo no sudo here")
    alias("cd", "pushd")
    alias("hello", "echo hello")
