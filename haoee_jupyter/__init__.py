"""haoee_jupyter: IPython magics, widgets and a typed client for the Haoee MaaS Responses API.

In a notebook::

    %load_ext haoee_jupyter
    %%haoee
    Explain entropy to a ten-year-old.

In Python::

    from haoee_jupyter import Client
    print(Client().respond("Say hi").text)

Importing the package is cheap: httpx, IPython and ipywidgets load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# name -> module that defines it; resolved lazily by __getattr__ (PEP 562).
_EXPORTS = {
    "Client": "._client",
    "AsyncClient": "._client",
    "Response": "._models",
    "Usage": "._models",
    "Citation": "._models",
    "form": "._form",
    "HaoeeError": "._exceptions",
    "ConfigurationError": "._exceptions",
    "MissingAPIKeyError": "._exceptions",
    "InsecureTransportError": "._exceptions",
    "APIConnectionError": "._exceptions",
    "APITimeoutError": "._exceptions",
    "APIStatusError": "._exceptions",
    "BadRequestError": "._exceptions",
    "NotFoundError": "._exceptions",
    "AuthenticationError": "._exceptions",
    "PermissionDeniedError": "._exceptions",
    "RateLimitError": "._exceptions",
    "ServerError": "._exceptions",
    "ResponseFailedError": "._exceptions",
    "ProtocolError": "._exceptions",
}

__all__ = sorted(_EXPORTS) + ["load_ipython_extension", "unload_ipython_extension"]

if TYPE_CHECKING:
    from ._client import AsyncClient, Client
    from ._exceptions import (
        APIConnectionError,
        APIStatusError,
        APITimeoutError,
        AuthenticationError,
        BadRequestError,
        ConfigurationError,
        HaoeeError,
        InsecureTransportError,
        MissingAPIKeyError,
        NotFoundError,
        PermissionDeniedError,
        ProtocolError,
        RateLimitError,
        ResponseFailedError,
        ServerError,
    )
    from ._form import form
    from ._models import Citation, Response, Usage


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'haoee_jupyter' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext haoee_jupyter``: register the ``%%haoee`` / ``%haoee`` magics."""
    from ._magics import load  # imported here so that importing the package stays cheap

    load(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    from ._magics import unload

    unload(ipython)
