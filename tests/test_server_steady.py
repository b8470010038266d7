"""A server process answers steadily: it keeps no syntax trees for the rules backend, and
`sql2nl serve` pays first-use costs at start and freezes what is alive then (server/steady.py)."""

from __future__ import annotations

import subprocess
import sys

from skips import require

require("starlette")
require("uvicorn")
httpx = require("httpx")

from sql2nl import cache  # noqa: E402
from sql2nl.server.app import create_app  # noqa: E402
from sql2nl.server.runner import ServerThread  # noqa: E402


def test_the_rules_server_leaves_the_library_cache_alone():
    # The server keeps its own answers; the library's cache would also keep each statement's tree,
    # which every full garbage collection then walks (the chat benchmark's 80-140 ms stalls).
    cache.clear()
    with ServerThread(create_app()) as url:
        for i in range(5):
            r = httpx.post(f"{url}/v1/describe", json={"sql": f"SELECT a FROM t WHERE b > {i}"})
            assert r.status_code == 200 and r.json()["text"]
        message = "Explain the following SQL query:\nSELECT name FROM users WHERE age > 30"
        r = httpx.post(f"{url}/v1/chat/completions", json={"messages": [{"role": "user", "content": message}]})
        assert "30" in r.json()["choices"][0]["message"]["content"]
        again = httpx.post(f"{url}/v1/describe", json={"sql": "SELECT a FROM t WHERE b > 1"})
        assert (
            again.json()["text"]
            == httpx.post(f"{url}/v1/describe", json={"sql": "SELECT a FROM t WHERE b > 1"}).json()["text"]
        )
    assert len(cache.memory) == 0


def test_steady_warms_up_and_freezes_in_its_own_process():
    # Run in a child: freezing the test process's heap would keep its garbage for good.
    code = (
        "import gc, sys\n"
        "from sql2nl.server.steady import steady\n"
        "assert gc.get_freeze_count() == 0\n"
        "steady()\n"
        "print(gc.get_freeze_count(), 'sql2nl.rules.zh' in sys.modules, 'sql2nl.server.finder' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    frozen, zh, finder = out.stdout.split()
    # the modules, dialect tables and compiled patterns alive after the warm-up are out of the GC's view
    assert int(frozen) > 10_000 and zh == "True" and finder == "True"
