name = "foreigndir"
version = "1.0.0"
description = "Adds a PATH folder owned by another user (the tests make it so)."

def commands():
    env.PATH.append("{root}/vendor")
