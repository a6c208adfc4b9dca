name = "studio_app"

version = "2.3.0"

description = "Example studio application: a launcher script on PATH and a short alias for it."

authors = ["Example Studio pipeline team"]

requires = ["studio_python_lib-1"]

tools = ["studio_app"]


def commands():
    env.PATH.prepend("{root}/bin")
    env.STUDIO_APP_HOME = "{root}"
    alias("sapp", "studio_app")
