name = "outsideroots"
version = "1.0.0"
description = "Adds a PATH folder outside every package root."

def commands():
    env.PATH.append("{root}/../../../scripts")
