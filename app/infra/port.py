"""Is the port free? Asked before anything slow loads, so a second `serve` fails in a blink."""

from __future__ import annotations

import errno
import socket


class PortInUse(Exception):
    pass


def ensure_free(host: str, port: int) -> None:
    """Bind and release host:port; PortInUse with a sentence to act on when it is taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        # As uvicorn binds: SO_REUSEADDR, so a port in TIME_WAIT counts as free.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise PortInUse(
                    f"port {port} on {host} is already in use (is the site already running? "
                    f"open http://{host}:{port}); choose another with --port or PORT"
                ) from None
            raise PortInUse(f"cannot listen on {host}:{port}: {exc.strerror}") from None
