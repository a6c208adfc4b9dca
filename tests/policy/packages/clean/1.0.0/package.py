name = "clean"
version = "1.0.0"
description = "A well-behaved package: its own bin folder and a data variable."

def commands():
    env.PATH.prepend("{root}/bin")
    env.CLEAN_DATA = "{root}/data"
