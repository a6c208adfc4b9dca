name = "localpkg"
version = "1.0.0"
description = "A package from the user's local packages path."

def commands():
    env.LOCALPKG_DATA = "{root}/data"
