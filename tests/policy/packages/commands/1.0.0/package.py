name = "commands"
version = "1.0.0"
description = "Runs a command at shell start."

def commands():
    command("echo started")
