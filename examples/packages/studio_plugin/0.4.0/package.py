name = "studio_plugin"

version = "0.4.0"

description = "Example plugin for studio_app, found through STUDIO_APP_PLUGIN_PATH."

authors = ["Example Studio pipeline team"]

requires = ["studio_app-2"]


def commands():
    env.STUDIO_APP_PLUGIN_PATH.append("{root}/plugins")
