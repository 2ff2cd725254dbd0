"""Error hints as users read them: what happened, then what to do, each fix named once, no raw
Markdown (the lines are plain text in a traceback and in the form), and concurrency advice only
where there is concurrency (a batch's summary, not one cell)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

from haoee_jupyter import Client, HaoeeError, MissingAPIKeyError, RateLimitError
from haoee_jupyter.client import _errors, _exceptions
from haoee_jupyter.client._exceptions import RENDER_WIDTH
from haoee_jupyter.notebook._session import Session


def every_error_class() -> list[type[HaoeeError]]:
    return [cls for cls in vars(_exceptions).values() if isinstance(cls, type) and issubclass(cls, HaoeeError)]


@pytest.fixture(scope="module")
def ip() -> InteractiveShell:
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "haoee_jupyter")
    return shell


@pytest.fixture
def magics(ip: InteractiveShell, offline_server: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name in list(os.environ):
        if name.startswith("HAOEE_"):
            monkeypatch.delenv(name)
    magics = ip.magics_manager.registry["Haoee"]
    for name, trait in type(magics).class_traits(config=True).items():
        setattr(magics, name, trait.default_value)
    magics.base_url, magics.api_key, magics.max_retries = offline_server.url, "sk-wrong-key-for-a-test", 0
    magics.state.session = Session()
    yield magics
    for name, trait in type(magics).class_traits(config=True).items():
        setattr(magics, name, trait.default_value)


def shown_error(ip: InteractiveShell, cell: str) -> str:
    """What a notebook shows for a failing cell: IPython's rendering of the error (stdout here)."""
    with capture_output() as captured:
        result = ip.run_cell(cell)
    assert isinstance(result.error_in_exec, HaoeeError), result.error_in_exec
    return captured.stdout


def unfold(shown: str) -> list[str]:
    """The rendered lines with their folds undone; every line fits the error box's width."""
    lines = shown.strip().splitlines()
    assert all(len(line) <= RENDER_WIDTH for line in lines), lines
    logical: list[str] = []
    for line in lines:
        if line.startswith("  ") and logical:
            logical[-1] += " " + line.strip()
        else:
            logical.append(line)
    return logical


def test_no_hint_has_raw_markdown() -> None:
    hints = [cls.default_hint for cls in every_error_class()]
    hints += [*_errors._HINTS.values(), _errors.BILLING_HINT]
    assert len(hints) > 15
    for hint in hints:
        assert "`" not in hint and "**" not in hint, hint


def test_no_hint_outside_a_batch_speaks_of_concurrency() -> None:
    for hint in [cls.default_hint for cls in every_error_class()] + list(_errors._HINTS.values()):
        assert "concurrency" not in hint.lower(), hint


def test_a_refused_key_says_what_happened_then_the_fix_once(ip: InteractiveShell, magics: Any) -> None:
    shown = shown_error(ip, "%%haoee -m fault-401\nExplain entropy")
    what, todo = unfold(shown)
    assert what.startswith("AuthenticationError: Incorrect API key provided") and "[HTTP 401" in what
    assert todo.startswith("→ ") and "%haoee key" in todo
    assert shown.count("HAOEE_API_KEY") == 1 and shown.count("%haoee key") == 1
    assert "`" not in shown and "sk-wrong-key" not in shown


def test_a_rate_limit_in_one_cell_does_not_tell_it_to_lower_the_concurrency(ip: InteractiveShell, magics: Any) -> None:
    shown = shown_error(ip, "%%haoee -m fault-429\nExplain entropy")
    what, todo = unfold(shown)
    assert what.startswith("RateLimitError: Rate limit reached") and "[HTTP 429" in what
    # The hint says the server's wait when it gave one (the offline 429 asks for 1 s).
    assert "run it again" in todo.lower() and "concurrency" not in shown.lower() and "`" not in shown


def test_a_long_retry_after_names_the_wait_and_no_concurrency(http_server: Any) -> None:
    body = b'{"error": {"message": "Too many requests", "type": "requests", "code": "rate_limit_exceeded"}}'
    http_server.add(status=429, body=body, headers={"Retry-After": "900"})
    with pytest.raises(RateLimitError) as info:
        Client(api_key="sk-test", base_url=http_server.url, max_retries=0).respond("hi")
    assert info.value.hint == "The server asks to wait about 15 min; run it again after that"


def test_a_missing_key_names_each_way_to_set_one_once() -> None:
    hint = MissingAPIKeyError("No Haoee API key is set").hint
    for fix in ("%haoee key", "HAOEE_API_KEY", "Client(api_key=...)", "%haoee offline"):
        assert hint.count(fix) == 1, (fix, hint)
    assert "`" not in hint
