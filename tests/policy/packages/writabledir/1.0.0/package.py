name = "writabledir"
version = "1.0.0"
description = "Adds a PATH folder that everyone can write (the tests make it so)."

def commands():
    env.PATH.append("{root}/shared")
