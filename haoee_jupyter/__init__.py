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

from ._version import __version__ as __version__  # the package root names it too

# name -> module that defines it; resolved lazily by __getattr__ (PEP 562).
_EXPORTS = {
    "Client": ".client._client",
    "AsyncClient": ".client._client",
    "Response": ".client._models",
    "Usage": ".client._models",
    "Citation": ".client._models",
    "Image": ".client._images",
    "ImageResult": ".client._images",
    "Video": ".client._videos",
    "VideoResult": ".client._videos",
    "VideoFailedError": ".client._videos",
    "VideoPendingError": ".client._videos",
    "form": ".notebook._form",
    "history": ".notebook._history",
    "HaoeeError": ".client._exceptions",
    "ConfigurationError": ".client._exceptions",
    "MissingAPIKeyError": ".client._exceptions",
    "InsecureTransportError": ".client._exceptions",
    "APIConnectionError": ".client._exceptions",
    "APITimeoutError": ".client._exceptions",
    "APIStatusError": ".client._exceptions",
    "BadRequestError": ".client._exceptions",
    "NotFoundError": ".client._exceptions",
    "AuthenticationError": ".client._exceptions",
    "PermissionDeniedError": ".client._exceptions",
    "RateLimitError": ".client._exceptions",
    "ServerError": ".client._exceptions",
    "ResponseFailedError": ".client._exceptions",
    "ProtocolError": ".client._exceptions",
}

__all__ = sorted(_EXPORTS) + ["load_ipython_extension", "unload_ipython_extension"]

if TYPE_CHECKING:  # for type checkers and editors; at run time __getattr__ loads each on first use
    from .client._client import AsyncClient, Client  # noqa: F401
    from .client._exceptions import (  # noqa: F401
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
    from .client._images import Image, ImageResult  # noqa: F401
    from .client._models import Citation, Response, Usage  # noqa: F401
    from .client._videos import Video, VideoFailedError, VideoPendingError, VideoResult  # noqa: F401
    from .notebook._form import form  # noqa: F401
    from .notebook._history import history  # noqa: F401


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
    from .notebook._magics import load  # imported here so that importing the package stays cheap

    load(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    from .notebook._magics import unload

    unload(ipython)
