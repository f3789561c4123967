"""Child processes ``manage.py serve`` (``make run``) starts for the integrations app: the mock platforms,
unless something already answers on their port (e.g. a mock started by hand) or MOCK_PLATFORMS=0."""

import os
import socket
import sys


def _port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def processes() -> list[list[str]]:
    port = int(os.environ.get("MOCK_PLATFORMS_PORT", "8100"))
    if os.environ.get("MOCK_PLATFORMS", "1") == "0" or _port_in_use(port):
        return []
    return [[sys.executable, "manage.py", "run_mock_platforms", "--port", str(port), "--realtime"]]
