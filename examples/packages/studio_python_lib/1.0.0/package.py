name = "studio_python_lib"

version = "1.0.0"

description = "Tiny shared Python library that studio tools import."

authors = ["Example Studio pipeline team"]


def commands():
    env.PYTHONPATH.prepend("{root}/python")
