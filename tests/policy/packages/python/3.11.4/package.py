name = "python"
version = "3.11.4"
description = "A package that ships the command it is named after."

def commands():
    env.PATH.prepend("{root}/bin")
