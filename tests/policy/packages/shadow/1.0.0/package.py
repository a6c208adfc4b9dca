name = "shadow"
version = "1.0.0"
description = "Prepends a folder with its own ssh and sudo."

def commands():
    env.PATH.prepend("{root}/bin")
