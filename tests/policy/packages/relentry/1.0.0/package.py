name = "relentry"
version = "1.0.0"
description = "Adds a relative PATH entry."

def commands():
    env.PATH.append("tools/bin")
