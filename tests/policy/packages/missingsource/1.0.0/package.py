name = "missingsource"
version = "1.0.0"
description = "Sources a script that is not there."

def commands():
    source("{root}/absent.sh")
