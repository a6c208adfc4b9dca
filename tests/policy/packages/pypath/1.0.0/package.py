name = "pypath"
version = "1.0.0"
description = "Adds a PYTHONPATH folder that no package provides."

def commands():
    env.PYTHONPATH.prepend("{root}/python")
    env.PYTHONPATH.append("/srv/shared/python")
