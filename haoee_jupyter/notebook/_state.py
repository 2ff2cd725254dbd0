"""What one IPython shell holds: its settings, session, clients and offline server.

One :class:`ShellState` per shell, made by the ``Haoee`` magics when the extension loads (the
settings are that class's traits, so ``%config Haoee.model`` keeps working) and reached from
anywhere in the notebook layer with :func:`state_for`. Nothing here is global: two shells in one
process each have their own key, clients and conversations.

    state = state_for(get_ipython())
    state.client()                # the shell's Client, built from its settings
    state.source("model")         # where the model setting comes from, for %haoee config
    state.log_call(call)          # the call log under HAOEE_HOME (every front end's calls)
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # at run time each is imported on first use, so %load_ext stays light
    import asyncio

    from ._session import Session

#: Settings the clients are built from: changing one replaces the shell's clients.
CLIENT_SETTINGS = ("api_key", "base_url", "model", "timeout", "connect_timeout", "max_retries")
#: The offline server takes any key; this one says it is no secret and shares no beginning
#: with anything the server answers (a model name), so hiding the key hides nothing else.
OFFLINE_KEY = "sk-offline-demo-not-a-secret"
#: The environment variable each setting falls back to when it is empty.
ENVIRONMENT = {"api_key": "HAOEE_API_KEY", "base_url": "HAOEE_BASE_URL", "model": "HAOEE_MODEL"}


class ShellState:
    """The settings (an object with the ``Haoee`` traits), session, clients and offline server
    of one shell.

    The clients are built with the key, base URL and model of the settings, never from anything
    global; when one of :data:`CLIENT_SETTINGS` changes, they are replaced and the old ones
    closed (a client still streaming an answer is closed when that answer ends).
    """

    def __init__(self, settings: Any, shell: Any = None) -> None:
        self.settings = settings
        self.shell = shell
        self.offline_server: Any = None
        self._before_offline: dict[str, tuple[Any, str | None]] = {}
        self._clients: dict[str, Any] = {}
        self._leases: dict[int, int] = {}  # id(client) -> calls using it now
        self._retired: list[Any] = []  # replaced while in use: closed when the last call ends
        self._sources: dict[str, str] = {}
        self._assigning: str | None = None
        self._closing: set[asyncio.Task[None]] = set()
        self._stores: dict[str, Any] = {}  # "log", "cache": opened on first use
        self._stores_lock = threading.Lock()  # a batch's rows log from many threads
        self._store_warned: set[str] = set()

    @functools.cached_property
    def session(self) -> Session:
        """This shell's calls, totals and chats (made on first use; assigning one replaces it)."""
        from ._session import Session

        return Session()

    @property
    def namespace(self) -> dict[str, Any]:
        """The user's namespace (empty without a shell)."""
        return self.shell.user_ns if self.shell is not None else {}

    # --- settings, and where each comes from ------------------------------------------------
    def assign(self, name: str, value: Any, source: str) -> None:
        """Set a setting on behalf of a subcommand (``%haoee key``), remembering who set it."""
        self._assigning = source
        try:
            setattr(self.settings, name, value)
        finally:
            self._assigning = None
        self._sources[name] = source

    def setting_changed(self, name: str) -> None:
        """Called for every change of a setting, however it was made."""
        self._sources[name] = self._assigning or f"%config Haoee.{name}"
        if name in CLIENT_SETTINGS:
            self.replace_clients()

    def source(self, name: str) -> str:
        """Where the value in effect comes from: ``%config Haoee.x``, ``%haoee key``,
        ``%haoee offline``, ``$HAOEE_X`` or ``default``."""
        value = getattr(self.settings, name)
        if value not in (None, "") and value != self._default(name):
            return self._sources.get(name, f"%config Haoee.{name}")
        variable = ENVIRONMENT.get(name)
        if variable and os.environ.get(variable, "").strip():
            return "$" + variable
        return "default"

    def _default(self, name: str) -> Any:
        defaults = getattr(self.settings, "trait_defaults", None)
        return defaults(name) if defaults is not None else None

    # --- clients ------------------------------------------------------------------------------
    def client(self, kind: str = "sync") -> Any:
        """The shell's Client (``kind="async"``: AsyncClient), built from the settings."""
        client = self._clients.get(kind)
        if client is None:
            client = self._clients[kind] = self._build(kind)
        return client

    def _build(self, kind: str) -> Any:
        import httpx

        from ..client._client import AsyncClient, Client

        settings = self.settings
        factory = Client if kind == "sync" else AsyncClient
        return factory(
            api_key=str(settings.api_key or "") or None,
            base_url=settings.base_url or None,
            model=settings.model or None,
            timeout=httpx.Timeout(settings.timeout, connect=settings.connect_timeout),
            max_retries=settings.max_retries,
        )

    @contextlib.contextmanager
    def lease(self) -> Iterator[Any]:
        """The sync client for one call; if the settings change meanwhile, it is closed after."""
        client = self.client("sync")
        self._leases[id(client)] = self._leases.get(id(client), 0) + 1
        try:
            yield client
        finally:
            if self._release(client):
                client.close()

    @contextlib.asynccontextmanager
    async def alease(self) -> AsyncIterator[Any]:
        """The async client for one call, as :meth:`lease`."""
        client = self.client("async")
        self._leases[id(client)] = self._leases.get(id(client), 0) + 1
        try:
            yield client
        finally:
            if self._release(client):
                await client.aclose()

    def _release(self, client: Any) -> bool:
        """Count one call off; True when the client was replaced and nothing uses it any more."""
        left = self._leases.pop(id(client)) - 1
        if left:
            self._leases[id(client)] = left
            return False
        if client in self._retired:
            self._retired.remove(client)
            return True
        return False

    def replace_clients(self) -> None:
        """Forget the clients (the next call builds new ones from the settings) and close them."""
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            if self._leases.get(id(client)):
                self._retired.append(client)
            elif hasattr(client, "aclose"):
                self._close_later(client)
            else:
                client.close()

    def _close_later(self, client: Any) -> None:
        # An AsyncClient's connections belong to the event loop that opened them: close it there.
        # With no loop running (not in a kernel), there is nothing to close it on; dropping it
        # leaves its connections to that loop.
        import asyncio

        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        task = loop.create_task(client.aclose())
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def aclose(self) -> None:
        """Close both clients now, from the running loop (for tests and scripts)."""
        clients, self._clients = dict(self._clients), {}
        if "sync" in clients:
            clients["sync"].close()
        if "async" in clients:
            await clients["async"].aclose()

    def close(self) -> None:
        """What ``%unload_ext`` does: close the clients, the call log and the cache, and stop the offline server."""
        self.stop_offline()
        self.replace_clients()
        with self._stores_lock:
            stores, self._stores = list(self._stores.values()), {}
        for store in stores:
            store.close()

    # --- the call log and the response cache ------------------------------------------------
    def _store(self, kind: str) -> Any:
        """The CallLog or ResponseCache under HAOEE_HOME, opened once (again if $HAOEE_HOME changes)."""
        from ._store import haoee_home

        home = haoee_home()
        with self._stores_lock:
            store = self._stores.get(kind)
            if store is None or store.path.parent != home:
                if store is not None:
                    store.close()
                if kind == "log":
                    from ._log import CallLog

                    store = CallLog()
                else:
                    from ._cache import ResponseCache

                    store = ResponseCache()
                self._stores[kind] = store
            return store

    @property
    def call_log(self) -> Any:
        """The persistent call log (``HAOEE_HOME/calls.sqlite3``)."""
        return self._store("log")

    @property
    def response_cache(self) -> Any:
        """The response cache (``HAOEE_HOME/cache.sqlite3``)."""
        return self._store("cache")

    def secret(self) -> str | None:
        """The key in use, so that the log and the cache can mask it should it appear anywhere."""
        return str(self.settings.api_key or "") or os.environ.get("HAOEE_API_KEY") or None

    def base_url(self) -> str:
        """The base URL calls go to (part of a cache key, kept in the log)."""
        try:
            return str(self.client().base_url)
        except Exception:  # an unusable URL: the call itself says so
            return str(self.settings.base_url or "")

    def log_call(
        self,
        call: Any,
        *,
        enabled: bool | None = None,
        endpoint: str | None = None,
        batch_id: str | None = None,
        batch_row: int | None = None,
        job_id: str | None = None,
    ) -> int | None:
        """Write a call (a :class:`~._session.Call`) to the call log; returns its id (``call.log_id``).

        Every front end calls this once a call has ended, also on error and interrupt: the
        magic, the form, batch rows, comparisons and media calls (``endpoint`` defaults to
        ``call.endpoint``; a video job passes ``job_id``). Writing the same call again (a job
        polled to its end) updates its row. ``enabled`` is the cell's ``--log`` / ``--no-log``
        (None: ``%config Haoee.log``). Thread-safe. A log that cannot be written costs a
        one-line warning, never the answer.
        """
        if not (self.settings.log if enabled is None else enabled):
            return None
        from ._log import STATUSES, CallRecord, cell_origin

        response = call.response
        raw = getattr(response, "raw", None)
        status = "cached" if getattr(call, "cached", False) else call.status
        record = CallRecord(
            endpoint=endpoint or getattr(call, "endpoint", None) or "/responses",
            request=call.body if isinstance(call.body, dict) else {},
            response=raw if isinstance(raw, dict) else None,
            text=call.text,
            model=call.model,
            usage=call.usage,
            latency=call.latency,
            status=status if status in STATUSES else "pending",
            error=call.error if call.error is not None else ("Interrupted" if call.interrupted else None),
            source=call.source,
            base_url=self.base_url(),
            notebook=cell_origin(self.shell)[0] if self.shell is not None else None,
            cell=call.cell,
            batch_id=batch_id,
            batch_row=batch_row,
            job_id=job_id,
            started=call.started_at,
            id=getattr(call, "log_id", None),
        )
        try:
            call.log_id = self.call_log.write(record, secret=self.secret())
        except Exception as e:  # StoreError, or a value SQLite cannot take: the answer matters more
            self.store_failed("log", e)
            return None
        return call.log_id  # type: ignore[no-any-return]

    def cache_get(self, endpoint: str, body: dict[str, Any]) -> Any:
        """The cached Response to this request (to the base URL in use), or None; thread-safe."""
        try:
            hit = self.response_cache.get(endpoint, body, self.base_url())
        except Exception as e:  # a damaged cache is a miss, said once
            self.store_failed("cache", e)
            return None
        if hit is None:
            return None
        from ..client._models import Response

        return Response(raw=hit.response)

    def cache_put(self, endpoint: str, body: dict[str, Any], response: Any) -> None:
        """Keep a completed answer in the cache, replacing an older one; thread-safe."""
        raw = getattr(response, "raw", None)
        if not isinstance(raw, dict):
            return
        try:
            self.response_cache.put(
                endpoint, body, self.base_url(), raw, text=str(getattr(response, "text", "")), secret=self.secret()
            )
        except Exception as e:
            self.store_failed("cache", e)

    def store_failed(self, kind: str, error: BaseException) -> None:
        """Say once per session, in one line, that the call log or the cache is not working."""
        if kind in self._store_warned:
            return
        self._store_warned.add(kind)
        what = "call log" if kind == "log" else "response cache"
        off = "%config Haoee.log = False" if kind == "log" else "%config Haoee.cache = False"
        print(
            f"haoee: the {what} is not working ({error}); calls go on without it ({off} stops trying)", file=sys.stderr
        )

    # --- the offline demo server --------------------------------------------------------------
    def start_offline(self, latency_ms: float | None) -> Any:
        """Start the offline server (or change its latency) and point the settings at it."""
        if self.offline_server is None:
            from ..offline import OfflineServer

            self._before_offline = {
                name: (getattr(self.settings, name), self._sources.get(name)) for name in ("base_url", "api_key")
            }
            self.offline_server = OfflineServer(latency_ms=20 if latency_ms is None else latency_ms).start()
        elif latency_ms is not None:
            self.offline_server.latency_ms = latency_ms
        self.assign("base_url", self.offline_server.url, "%haoee offline")
        self.assign("api_key", OFFLINE_KEY, "%haoee offline")
        return self.offline_server

    def stop_offline(self) -> bool:
        """Stop the offline server and restore the settings it replaced; False if none ran."""
        if self.offline_server is None:
            return False
        offline = {"base_url": self.offline_server.url, "api_key": OFFLINE_KEY}
        self.offline_server.stop()
        self.offline_server = None
        for name, (value, source) in self._before_offline.items():
            if getattr(self.settings, name) != offline[name]:
                continue  # set anew while the server ran: that stays
            self.assign(name, value, source or "")
            if source is None:
                del self._sources[name]
        self._before_offline = {}
        return True

    # --- output -------------------------------------------------------------------------------
    def show(self, markdown: str, plain: str) -> None:
        """Show a subcommand's answer: Markdown in a notebook, plain text in a terminal."""
        from ._display import in_terminal

        if in_terminal(self.shell):
            print(plain)
            return
        from IPython.display import display

        from ..render import bundle

        display(bundle(markdown, plain), raw=True)


def cell_number(shell: Any) -> int | None:
    """The running cell's execution count (its In [n]), or None outside a cell.

    Not ``shell.execution_count``: IPython 9 counts on before it runs the cell, IPython 8 after.
    """
    result = getattr(getattr(shell, "displayhook", None), "exec_result", None)
    count = getattr(result, "execution_count", None)
    return count if isinstance(count, int) else None


def state_for(shell: Any) -> ShellState:
    """The shell's state, loading the extension first if it is not loaded."""
    magics = shell.magics_manager.registry.get("Haoee")
    if magics is None:
        shell.extension_manager.load_extension("haoee_jupyter")
        magics = shell.magics_manager.registry.get("Haoee")
    if magics is None:
        raise RuntimeError("The haoee_jupyter extension could not be loaded; run %load_ext haoee_jupyter")
    return magics.state  # type: ignore[no-any-return]
