name = "changingsource"
version = "1.0.0"
description = "Sources a script the tests change after recording."

def commands():
    source("{root}/setup.sh")
