name = "missingdir"
version = "1.0.0"
description = "Adds a PATH folder that does not exist."

def commands():
    env.PATH.append("{root}/not-built")
