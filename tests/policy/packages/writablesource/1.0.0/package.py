name = "writablesource"
version = "1.0.0"
description = "Sources a script everyone can write (the tests make it so)."

def commands():
    source("{root}/setup.sh")
