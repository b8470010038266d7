"""Running the server inside another program (tests, benchmarks, notebooks) on a background thread.

>>> from sql2nl.server.runner import ServerThread  # doctest: +SKIP
>>> with ServerThread() as url:                     # doctest: +SKIP
...     httpx.post(f"{url}/v1/describe", json={"sql": "SELECT 1"})
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Any


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class ServerThread:
    """uvicorn serving ``app`` on a loopback port (or ``uds``) in a daemon thread; a context manager.

    ``url`` is the base URL once started. Leaving the ``with`` block shuts the server down.
    """

    def __init__(
        self,
        app: Any = None,
        *,
        host: str = "127.0.0.1",
        port: int | None = None,
        uds: str | None = None,
        **uvicorn_options: Any,
    ):
        import uvicorn

        if app is None:
            from .app import create_app

            app = create_app()
        self.app = app
        self.port = port or (None if uds else free_port(host))
        options: dict[str, Any] = dict(
            log_level="warning", access_log=False, server_header=False, timeout_graceful_shutdown=2, lifespan="off"
        )
        options.update(uvicorn_options)
        if uds:
            config = uvicorn.Config(app, uds=uds, **options)
        else:
            assert self.port is not None  # free_port() above when no port was given
            config = uvicorn.Config(app, host=host, port=self.port, **options)
        # uvicorn (>= 0.29) installs signal handlers only on the main thread, so this thread leaves them alone.
        self.server = uvicorn.Server(config)
        self.url = f"http://{host}:{self.port}" if not uds else "http://localhost"
        self._thread = threading.Thread(target=self.server.run, name="sql2nl-server", daemon=True)

    def start(self, timeout: float = 20.0) -> str:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the sql2nl server did not start (is the port taken?)")
            time.sleep(0.01)
        return self.url

    def stop(self) -> None:
        self.server.should_exit = True
        self._thread.join(timeout=10)

    def __enter__(self) -> str:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
