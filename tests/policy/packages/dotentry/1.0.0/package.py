name = "dotentry"
version = "1.0.0"
description = "Adds the current folder to PATH."

def commands():
    env.PATH.append(".")
