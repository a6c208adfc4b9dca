name = "preload"
version = "1.0.0"
description = "Injects a library into every program and adds a library folder it does not ship."

def commands():
    env.LD_PRELOAD = "{root}/lib/libhook.so"
    env.LD_LIBRARY_PATH.prepend("/srv/elsewhere/lib")
