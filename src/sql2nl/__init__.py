"""sql2nl: turn SQL into faithful plain language.

>>> from sql2nl import describe
>>> d = describe("SELECT name FROM users")
>>> d.backend
'rules'

Whether a text says what a statement says (the checker every LLM answer passes):

>>> from sql2nl import check_faithfulness
>>> check_faithfulness("SELECT name FROM users WHERE age > 18", "Names of users younger than 18.").contradicted
['comparison age > 18']
"""

from .api import describe, describe_many, describe_stream
from .backends import Backend, Draft, Request
from .description import Description
from .errors import (
    BackendError,
    BackendUnavailableError,
    InternalError,
    InvalidInputError,
    ModelError,
    Sql2NLError,
    SQLParseError,
    UnknownBackendError,
    UnknownModelError,
)
from .faithfulness import Faithfulness, check_faithfulness
from .hookspecs import hookimpl
from .response import Response

__version__ = "0.1.0"

__all__ = [
    "describe",
    "describe_many",
    "describe_stream",
    "Description",
    "Response",
    "Backend",
    "Draft",
    "Request",
    "check_faithfulness",
    "Faithfulness",
    "Sql2NLError",
    "SQLParseError",
    "UnknownBackendError",
    "UnknownModelError",
    "BackendUnavailableError",
    "BackendError",
    "InvalidInputError",
    "ModelError",
    "InternalError",
    "hookimpl",
    "load_ipython_extension",
    "unload_ipython_extension",
]


def load_ipython_extension(ipython):  # `%load_ext sql2nl`
    from .integrations.ipython import load_ipython_extension as load

    load(ipython)


def unload_ipython_extension(ipython):
    from .integrations.ipython import unload_ipython_extension as unload

    unload(ipython)
