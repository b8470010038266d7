"""Property-based tests of the server against its own OpenAPI document (schemathesis, in-process ASGI).

Every operation is fuzzed with a few dozen generated requests, valid and invalid; each answer must
be documented (status, content type, body schema) and no request may produce a 5xx.
Bounded (few examples, no shrinking deadline) so the whole file runs in well under a minute.
"""

from __future__ import annotations

from skips import require

require("starlette")
schemathesis = require("schemathesis")
from hypothesis import HealthCheck, settings  # noqa: E402
from schemathesis.specs.openapi.checks import positive_data_acceptance  # noqa: E402

from sql2nl.server.app import create_app  # noqa: E402
from sql2nl.server.config import ServerConfig  # noqa: E402

# The in-process test client calls itself "testserver"; allow it past the DNS-rebinding guard.
app = create_app(ServerConfig(allowed_hosts=("testserver", "localhost"), timeout_s=10))
schema = schemathesis.openapi.from_asgi("/openapi.json", app)


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_api_conforms_to_its_openapi_document(case):
    # "Schema-valid data must be accepted" cannot hold here: whether a string is SQL that can be
    # described is not something a JSON schema can say, so schema-valid text may rightly get 422.
    # Every other check (no 5xx, documented statuses, content types and bodies) applies.
    case.call_and_validate(excluded_checks=[positive_data_acceptance])


def test_document_lists_every_route():
    from sql2nl.server.app import ROUTES

    documented = set(app.state.openapi["paths"])
    routes = {r.path for r in ROUTES if "{" not in r.path}
    assert routes - {"/openapi.json"} == documented
