name = "outsidesource"
version = "1.0.0"
description = "Sources a script outside its own root."

def commands():
    source("{root}/../../../scripts/outside.sh")
