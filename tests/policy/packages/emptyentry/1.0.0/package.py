name = "emptyentry"
version = "1.0.0"
description = "Adds an empty PATH entry."

def commands():
    env.PATH.append("")
