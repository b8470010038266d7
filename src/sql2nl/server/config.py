"""The server's settings, validated once; the CLI and tests build one and pass it to ``create_app``."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any

from ..errors import InvalidInputError
from ..prompt import LANGUAGES

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1", "[::1]")


def is_loopback(host: str) -> bool:
    """Whether ``host`` only accepts connections from this machine."""
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass
class ServerConfig:
    """How ``sql2nl serve`` runs. Every limit has a default that suits one developer's IDE."""

    host: str = field(default="127.0.0.1", metadata={"help": "Address to bind; loopback unless --token is set."})
    port: int = field(default=8765, metadata={"help": "TCP port."})
    uds: str | None = field(default=None, metadata={"help": "Serve on this Unix domain socket instead of TCP."})
    token: str | None = field(
        default=None, metadata={"help": "Bearer token clients must send (required off loopback)."}
    )
    backend: str | None = field(default=None, metadata={"help": "Backend name (default $SQL2NL_BACKEND or rules)."})
    backend_options: dict[str, Any] = field(default_factory=dict, metadata={"help": "Options for the backend."})
    language: str = field(default="en", metadata={"help": "Language when a request names none and has no hint."})
    redact: bool = field(
        default=False,
        metadata={
            "help": "Hide literal values, comments and passwords from the "
            "backend (see sql2nl.redact); restored in the answers."
        },
    )
    max_body_bytes: int = field(default=1_000_000, metadata={"help": "Larger request bodies get 413."})
    timeout_s: float = field(
        default=25.0,
        metadata={
            "help": "Per-request limit on the backend (504 after it); below DBeaver's 30 s so it sees our message."
        },
    )
    max_concurrency: int = field(default=4, metadata={"help": "Backend calls running at once (threads)."})
    max_queue: int = field(default=256, metadata={"help": "Backend calls waiting beyond that get 503."})
    max_batch: int = field(default=256, metadata={"help": "Most statements in one batch request."})
    cors_origins: tuple[str, ...] = field(default=(), metadata={"help": "Origins allowed by CORS (none by default)."})
    allowed_hosts: tuple[str, ...] | None = field(
        default=None,
        metadata={
            "help": "Host headers accepted; default: loopback names when bound to loopback (DNS-rebinding guard)."
        },
    )

    def __post_init__(self) -> None:
        if not (0 <= int(self.port) <= 65535):
            raise InvalidInputError(f"port must be between 0 and 65535, got {self.port}.")
        if self.uds is None and not is_loopback(self.host) and not self.token:
            raise InvalidInputError(
                f"Refusing to listen on {self.host!r} without a token: anyone who can reach it could use it. "
                "Pass --token SECRET (clients then send 'Authorization: Bearer SECRET'), or bind to 127.0.0.1."
            )
        if self.language not in LANGUAGES:
            raise InvalidInputError(f"language must be one of {', '.join(LANGUAGES)}, got {self.language!r}.")
        for name in ("max_body_bytes", "max_concurrency", "max_queue", "max_batch"):
            if int(getattr(self, name)) < 1:
                raise InvalidInputError(f"{name} must be at least 1, got {getattr(self, name)}.")
        if not self.timeout_s > 0:
            raise InvalidInputError(f"timeout_s must be positive, got {self.timeout_s}.")
        if self.allowed_hosts is None and (self.uds is not None or is_loopback(self.host)):
            self.allowed_hosts = LOOPBACK_NAMES
        if self.allowed_hosts is not None:
            self.allowed_hosts = tuple(self.allowed_hosts)  # a list when read back from JSON (--workers)
            for name in self.allowed_hosts:
                # The patterns Starlette's TrustedHostMiddleware accepts (it asserts on the others).
                if "*" in name[1:] or (name.startswith("*") and name != "*" and not name.startswith("*.")):
                    raise InvalidInputError(
                        f"Allowed host {name!r} is not a host name or a pattern like "
                        "'*.example.com' (a '*' may only start it)."
                    )
