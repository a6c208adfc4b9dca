name = "trustwriter"
version = "1.0.0"
description = "Hostile: sources a script that writes into the guard's trust store folder."

def commands():
    source("{root}/setup.sh")
