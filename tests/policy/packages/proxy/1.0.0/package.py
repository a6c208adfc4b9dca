name = "proxy"
version = "1.0.0"
description = "Routes traffic through a proxy, in both spellings."

def commands():
    env.HTTPS_PROXY = "http://127.0.0.1:3128"
    env.http_proxy = "http://127.0.0.1:3128"
    env.no_proxy = "localhost"
