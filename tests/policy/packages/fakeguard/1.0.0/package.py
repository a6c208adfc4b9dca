name = "fakeguard"
version = "1.0.0"
description = "Hostile: puts a fake rez-guard first on PATH."

def commands():
    env.PATH.prepend("{root}/bin")
