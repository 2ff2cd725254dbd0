"""The %%haoee / %haoee magics in a real IPython shell, against the offline demo server.

Every option is checked twice: in what the server received (``offline_server.requests``)
and in what the notebook showed (the display publishes captured by ``capture_output``).
The shell is a plain ``InteractiveShell`` (not a terminal one), so the notebook display
path with display ids is used.
"""

from __future__ import annotations

import _thread
import base64
import importlib.util
import io
import json
import os
import re
import shlex
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import CapturedIO, capture_output
from traitlets import TraitError

from haoee_jupyter import (
    APIConnectionError,
    APITimeoutError,
    HaoeeError,
    ProtocolError,
    ResponseFailedError,
    ServerError,
)
from haoee_jupyter.notebook._session import Session

#: A distinctive fake key: it must never show up in anything the user sees.
FAKE_KEY = "sk-haoeetest-Q7x2Kp9LmZr4Vw8Nf3Jd"
KEY_MIDDLE = FAKE_KEY[4:-4]

# "model · N in / M out tokens · X s", as in the final footer.
FOOTER = r"{model} · [\d,]+ in / [\d,]+ out tokens · \d+\.\d s"


# --- the shell and its clean state ---------------------------------------------------------


@pytest.fixture(scope="session")
def ip() -> InteractiveShell:
    shell = InteractiveShell.instance()  # one per process: other test files may have used it
    for name in [name for name in shell.user_ns if name.startswith("haoee_")]:
        del shell.user_ns[name]
    shell.run_line_magic("load_ext", "haoee_jupyter")
    shell._haoee_baseline_ns = set(shell.user_ns)  # type: ignore[attr-defined]
    return shell


@pytest.fixture
def magics(ip: InteractiveShell) -> Any:
    return ip.magics_manager.registry["Haoee"]


@pytest.fixture
def state(magics: Any) -> Any:
    """The shell's state: its session, clients and offline server."""
    return magics.state


@pytest.fixture(autouse=True)
def clean_shell(ip: InteractiveShell, magics: Any, offline_server: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Each test starts with default settings pointed at the offline server, a new session and
    a namespace without the previous test's variables."""
    for name in list(os.environ):
        if name.startswith("HAOEE_"):
            monkeypatch.delenv(name)
    magics.state.stop_offline()
    for name, trait in type(magics).class_traits(config=True).items():
        ip.run_line_magic("config", f"Haoee.{name} = {trait.default_value!r}")
    ip.run_line_magic("config", f"Haoee.base_url = {offline_server.url!r}")
    ip.run_line_magic("config", f"Haoee.api_key = {FAKE_KEY!r}")
    ip.run_line_magic("config", "Haoee.max_retries = 0")  # faults fail at once; one test sets 1
    magics.state.session = Session()
    magics.state.replace_clients()
    baseline = ip._haoee_baseline_ns  # type: ignore[attr-defined]
    for name in [n for n in ip.user_ns if n not in baseline and not n.startswith("_")]:
        del ip.user_ns[name]
    yield
    magics.state.stop_offline()
    # Leave nothing behind for tests in other files: default traits.
    for name, trait in type(magics).class_traits(config=True).items():
        setattr(magics, name, trait.default_value)


# --- helpers ---------------------------------------------------------------------------------


def ask(ip: InteractiveShell, line: str = "", cell: str = "Explain entropy") -> CapturedIO:
    """Run one %%haoee cell and return everything it printed and displayed."""
    with capture_output() as captured:
        ip.run_cell_magic("haoee", line, cell)
    return captured


def line_magic(ip: InteractiveShell, line: str) -> CapturedIO:
    with capture_output() as captured:
        ip.run_line_magic("haoee", line)
    return captured


def publishes(captured: CapturedIO) -> list[dict[str, Any]]:
    """Every display publish, in order, including the in-place updates (``update=True``)."""
    return list(captured._outputs)


def final_bundle(captured: CapturedIO) -> dict[str, str]:
    return dict(publishes(captured)[-1]["data"])


def posts(server: Any) -> list[dict[str, Any]]:
    """The JSON bodies of the POST requests the server received."""
    return [r["body"] for r in server.requests if r["method"] == "POST"]


def one_post(server: Any) -> dict[str, Any]:
    bodies = posts(server)
    assert len(bodies) == 1, f"expected exactly one request, got {len(bodies)}"
    return bodies[0]


def everything_shown(captured: CapturedIO) -> str:
    """All text the user could see: stdout, stderr and every string of every bundle."""
    parts = [captured.stdout, captured.stderr]
    for output in publishes(captured):
        parts += [value if isinstance(value, str) else json.dumps(value) for value in output["data"].values()]
    return "\n".join(parts)


def canned(text: str | None = None, *, refusal: str | None = None, model: str = "canned-model") -> bytes:
    """A complete, non-streamed Responses API answer for the scriptable http_server."""
    content = (
        [{"type": "output_text", "text": text, "annotations": []}]
        if text is not None
        else [{"type": "refusal", "refusal": refusal}]
    )
    return json.dumps(
        {
            "id": "resp_canned",
            "object": "response",
            "status": "completed",
            "model": model,
            "output": [
                {"type": "message", "id": "msg_canned", "role": "assistant", "status": "completed", "content": content}
            ],
            "usage": {"input_tokens": 3, "output_tokens": 5, "total_tokens": 8},
        }
    ).encode()


def png_bytes() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (3, 2), "blue").save(buffer, format="PNG")
    return buffer.getvalue()


def decoded_data_url(url: str) -> bytes:
    assert url.startswith("data:image/png;base64,"), url[:60]
    return base64.b64decode(url.split(",", 1)[1])


# --- loading and settings --------------------------------------------------------------------


def test_load_ext_registers_the_cell_and_line_magic(ip: InteractiveShell) -> None:
    assert ip.find_cell_magic("haoee") is not None
    assert ip.find_line_magic("haoee") is not None
    assert "Haoee" in ip.magics_manager.registry


def test_full_help_lists_every_option(ip: InteractiveShell) -> None:
    doc = ip.find_cell_magic("haoee").__doc__
    for option in (
        "--model",
        "--instructions",
        "--temperature",
        "--top-p",
        "--max-tokens",
        "--reasoning",
        "--no-stream",
        "--web",
        "--out",
        "--format",
        "--schema",
        "--image",
        "--chat",
        "--raw",
        "--dry-run",
    ):
        assert option in doc


def test_config_model_is_sent(ip: InteractiveShell, offline_server: Any) -> None:
    ip.run_line_magic("config", 'Haoee.model = "qwen3-max"')
    ask(ip)
    assert one_post(offline_server)["model"] == "qwen3-max"


def test_environment_is_used_when_nothing_is_configured(
    ip: InteractiveShell, offline_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    ip.run_line_magic("config", "Haoee.base_url = ''")
    ip.run_line_magic("config", "Haoee.api_key = ''")
    monkeypatch.setenv("HAOEE_BASE_URL", offline_server.url)
    monkeypatch.setenv("HAOEE_API_KEY", FAKE_KEY)
    monkeypatch.setenv("HAOEE_MODEL", "env-model")
    ask(ip)
    assert one_post(offline_server)["model"] == "env-model"


def test_config_wins_over_the_environment(
    ip: InteractiveShell, http_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HAOEE_MODEL", "env-model")
    monkeypatch.setenv("HAOEE_BASE_URL", "http://127.0.0.1:9/v1")  # nothing listens there
    monkeypatch.setenv("HAOEE_API_KEY", "sk-from-the-environment-0000")
    http_server.add(body=canned("hi"))
    ip.run_line_magic("config", 'Haoee.model = "cfg-model"')
    ip.run_line_magic("config", f"Haoee.base_url = {http_server.url!r}")
    ip.run_line_magic("config", f"Haoee.api_key = {FAKE_KEY!r}")
    ask(ip)
    [request] = http_server.requests
    assert request.path == "/v1/responses"
    assert request.json["model"] == "cfg-model"
    assert request.headers["authorization"] == f"Bearer {FAKE_KEY}"


def test_config_listing_shows_traits_and_masks_the_key(ip: InteractiveShell) -> None:
    with capture_output() as captured:
        ip.run_line_magic("config", "Haoee")
    for trait in (
        "Haoee.model",
        "Haoee.api_key",
        "Haoee.base_url",
        "Haoee.temperature",
        "Haoee.updates_per_second",
        "Haoee.max_retries",
    ):
        assert trait in captured.stdout
    assert FAKE_KEY not in captured.stdout and KEY_MIDDLE not in captured.stdout
    assert "sk-…" + FAKE_KEY[-4:] in captured.stdout


def test_updates_per_second_defaults_to_ten(magics: Any) -> None:
    assert magics.updates_per_second == 10.0


# --- options: what is sent -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("", {"model": "gpt-4.1", "input": "Explain entropy", "stream": True}),
        ("-m gpt-5.2", {"model": "gpt-5.2"}),
        ("--model deepseek-v4-flash", {"model": "deepseek-v4-flash"}),
        ("-i 'Answer like a pirate.'", {"instructions": "Answer like a pirate."}),
        ('--instructions "Be precise."', {"instructions": "Be precise."}),
        ('-i "Don\'t guess."', {"instructions": "Don't guess."}),
        ("-t 0.3", {"temperature": 0.3}),
        ("--temperature 1.5", {"temperature": 1.5}),
        ("--top-p 0.5", {"top_p": 0.5}),
        ("--max-tokens 20", {"max_output_tokens": 20}),
        ("--reasoning low", {"reasoning": {"effort": "low", "summary": "auto"}}),
        ("--reasoning HIGH", {"reasoning": {"effort": "high", "summary": "auto"}}),
        ("--web", {"tools": [{"type": "web_search"}]}),
    ],
)
def test_option_is_sent(ip: InteractiveShell, offline_server: Any, line: str, expected: dict[str, Any]) -> None:
    ask(ip, line)
    body = one_post(offline_server)
    for key, value in expected.items():
        assert body[key] == value, key


def test_no_stream_sends_one_request_without_stream(ip: InteractiveShell, offline_server: Any) -> None:
    captured = ask(ip, "--no-stream")
    assert "stream" not in one_post(offline_server)
    # Nothing to stream: the "waiting" placeholder, then the final answer in the same display.
    assert len(publishes(captured)) == 2
    assert "## Offline demo answer" in final_bundle(captured)["text/markdown"]


def test_authorization_is_sent(ip: InteractiveShell, offline_server: Any) -> None:
    ask(ip)
    [request] = offline_server.requests
    assert request["authorization_present"] and request["authorization_scheme"] == "Bearer"


def test_trait_defaults_apply_and_options_override_them(ip: InteractiveShell, offline_server: Any) -> None:
    ip.run_line_magic("config", 'Haoee.instructions = "Use SI units."')
    ip.run_line_magic("config", "Haoee.temperature = 0.7")
    ip.run_line_magic("config", "Haoee.max_output_tokens = 500")
    ip.run_line_magic("config", "Haoee.stream = False")
    ask(ip)
    ask(ip, "-i 'Use imperial units.' -t 0.1 --max-tokens 300")
    first, second = posts(offline_server)
    assert (first["instructions"], first["temperature"], first["max_output_tokens"]) == ("Use SI units.", 0.7, 500)
    assert "stream" not in first
    assert (second["instructions"], second["temperature"], second["max_output_tokens"]) == (
        "Use imperial units.",
        0.1,
        300,
    )


def test_web_lists_sources_as_links_under_the_answer(ip: InteractiveShell) -> None:
    captured = ask(ip, "--web", "What is new in Python 3.13?")
    bundle = final_bundle(captured)
    markdown = bundle["text/markdown"]
    citations = ip.user_ns["haoee_response"].citations
    assert len(citations) >= 2
    sources = markdown[markdown.index("**Sources**") :]
    for number, citation in enumerate(citations, 1):
        assert f"{number}. [{citation.title}]({citation.url})" in sources
        assert f"{number}. {citation.title} <{citation.url}>" in bundle["text/plain"]


@pytest.mark.parametrize("instructions", ["", "-i 'Be brief.'"])
def test_web_source_titles_of_a_long_question_end_at_a_word(ip: InteractiveShell, instructions: str) -> None:
    question = "What changed in the latest stable release of the Python programming language and why"
    ask(ip, f"--web {instructions}", question)
    for citation in ip.user_ns["haoee_response"].citations:
        shown, site = citation.title.split("… – ")
        assert question.startswith(shown + " ") and len(shown) < 60 and site.startswith("Example ")


def test_out_stores_the_answer_text(ip: InteractiveShell) -> None:
    ask(ip, "-o answer")
    assert ip.user_ns["answer"] == ip.user_ns["haoee_response"].text
    assert ip.user_ns["answer"].startswith("## Offline demo answer")
    ask(ip, "--out second")
    assert ip.user_ns["second"].startswith("## Offline demo answer")


# --- formats ---------------------------------------------------------------------------------


def test_markdown_is_the_default_format(ip: InteractiveShell) -> None:
    bundle = final_bundle(ask(ip))
    assert set(bundle) == {"text/markdown", "text/plain"}
    markdown = bundle["text/markdown"]
    assert "## Offline demo answer" in markdown and "| Measure | Value |" in markdown and "```python" in markdown


def test_format_text_is_plain_only(ip: InteractiveShell) -> None:
    captured = ask(ip, "-f text")
    bundle = final_bundle(captured)
    assert set(bundle) == {"text/plain"}
    assert bundle["text/plain"].startswith("## Offline demo answer")
    assert re.search(r"\[" + FOOTER.format(model="gpt-4.1") + r"\]$", bundle["text/plain"])


def test_format_trait_sets_the_default(ip: InteractiveShell) -> None:
    ip.run_line_magic("config", 'Haoee.format = "text"')
    assert set(final_bundle(ask(ip))) == {"text/plain"}


def test_format_html_has_text_html(ip: InteractiveShell) -> None:
    bundle = final_bundle(ask(ip, "-f html"))
    assert "text/html" in bundle and "text/plain" in bundle
    assert "Offline demo answer" in bundle["text/html"]


def test_format_math_has_text_latex(ip: InteractiveShell) -> None:
    bundle = final_bundle(ask(ip, "--format math", r"Write the Gibbs entropy \sum_i p_i \log p_i"))
    assert "text/latex" in bundle and "text/plain" in bundle
    assert bundle["text/latex"].startswith("$")


def test_format_code_puts_the_code_into_the_next_cell(ip: InteractiveShell, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, bool]] = []
    monkeypatch.setattr(ip, "set_next_input", lambda text, replace=False: calls.append((text, replace)), raising=False)
    ask(ip, "-f code", "Write a snippet that counts words")
    assert calls == [('prompt_words = 6\nprint(prompt_words, "words")', False)]


def test_format_json_parses_into_a_python_object(ip: InteractiveShell, magics: Any, http_server: Any) -> None:
    http_server.add(body=canned('Here it is:\n```json\n{"planets": ["Mercury", "Venus"], "count": 2}\n```'))
    ip.run_line_magic("config", f"Haoee.base_url = {http_server.url!r}")
    captured = ask(ip, "-f json -o data", "List two planets as JSON")
    assert ip.user_ns["data"] == {"planets": ["Mercury", "Venus"], "count": 2}
    assert '"count": 2' in final_bundle(captured)["text/markdown"]


def test_format_json_on_an_answer_that_is_not_json_says_what_to_do(ip: InteractiveShell) -> None:
    with pytest.raises(UsageError, match=r"not the JSON asked for.*kept in data.*Ask for JSON only"):
        ask(ip, "-f json -o data")
    assert ip.user_ns["data"].startswith("## Offline demo answer")  # the text is kept


# --- structured output -----------------------------------------------------------------------


BOOK_SCHEMA = {
    "type": "object",
    "properties": {"title": {"type": "string"}, "year": {"type": "integer"}},
    "required": ["title", "year"],
    "additionalProperties": False,
}


def test_schema_dict_is_sent_and_parsed(ip: InteractiveShell, offline_server: Any) -> None:
    ip.user_ns["book_schema"] = BOOK_SCHEMA
    ask(ip, "--schema book_schema -o book", "Recommend one classic science book.")
    text_format = one_post(offline_server)["text"]["format"]
    assert text_format["type"] == "json_schema"
    assert text_format["schema"] == BOOK_SCHEMA
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,64}", text_format["name"])
    book = ip.user_ns["book"]
    assert isinstance(book, dict) and isinstance(book["title"], str) and isinstance(book["year"], int)


def test_schema_pydantic_model_is_sent_and_parsed(ip: InteractiveShell, offline_server: Any) -> None:
    from pydantic import BaseModel

    class Book(BaseModel):
        title: str
        year: int

    ip.user_ns["Book"] = Book
    captured = ask(ip, "--schema Book --out book", "Recommend one classic science book.")
    text_format = one_post(offline_server)["text"]["format"]
    assert text_format == {"type": "json_schema", "name": "Book", "schema": Book.model_json_schema()}
    assert isinstance(ip.user_ns["book"], Book)
    assert '"title"' in final_bundle(captured)["text/markdown"]  # shown as JSON


# --- images ----------------------------------------------------------------------------------


def test_images_from_pil_matplotlib_file_and_url(ip: InteractiveShell, offline_server: Any, tmp_path: Path) -> None:
    from matplotlib.figure import Figure
    from PIL import Image

    figure = Figure(figsize=(1, 1))
    figure.add_subplot().plot([1, 2, 3])
    ip.user_ns["pic"] = Image.new("RGB", (4, 4), "red")
    ip.user_ns["fig"] = figure
    path = tmp_path / "chart.png"
    path.write_bytes(png_bytes())
    url = "https://example.org/cat.png"
    line = f"--image pic --image fig --image {shlex.quote(str(path))} --image {url}"
    ask(ip, line, "Describe these images")
    [message] = one_post(offline_server)["input"]
    assert message["role"] == "user"
    text_part, *images = message["content"]
    assert text_part == {"type": "input_text", "text": "Describe these images"}
    assert [part["type"] for part in images] == ["input_image"] * 4
    for part in images[:3]:
        assert decoded_data_url(part["image_url"]).startswith(b"\x89PNG\r\n\x1a\n")
    assert decoded_data_url(images[2]["image_url"]) == path.read_bytes()
    assert images[3]["image_url"] == url
    assert "4 images received" in ip.user_ns["haoee_response"].text


@pytest.mark.parametrize(
    ("setup", "line", "message"),
    [
        (None, "--image /no/such/picture.png", "no such file, URL or variable"),
        ({"number": 42}, "--image number", "a int is not an image"),
    ],
)
def test_bad_image_is_a_usage_error(
    ip: InteractiveShell, offline_server: Any, setup: Any, line: str, message: str
) -> None:
    ip.user_ns.update(setup or {})
    with pytest.raises(UsageError, match=message):
        ask(ip, line)
    assert offline_server.requests == []


# --- chats -----------------------------------------------------------------------------------


def test_chat_continues_from_the_last_answer(
    ip: InteractiveShell, magics: Any, state: Any, offline_server: Any
) -> None:
    ask(ip, "--chat lesson", "What is a prime number?")
    first_id = ip.user_ns["haoee_response"].id
    ask(ip, "--chat lesson", "And why is 1 not one?")
    first, second = posts(offline_server)
    assert "previous_response_id" not in first
    assert second["previous_response_id"] == first_id
    assert "Earlier you asked: “What is a prime number?”" in ip.user_ns["haoee_response"].text

    listing = line_magic(ip, "chats")
    assert "lesson" in listing.stdout + everything_shown(listing)
    assert state.session.chats["lesson"].turns == 2

    line_magic(ip, "reset lesson")
    ask(ip, "--chat lesson", "Fresh start")
    assert "previous_response_id" not in posts(offline_server)[-1]


def test_a_chat_whose_earlier_answer_is_gone_names_itself_in_the_hint(
    ip: InteractiveShell, state: Any, offline_server: Any
) -> None:
    ask(ip, "--chat lesson", "What is a prime number?")
    state.session.chats["lesson"].last_response_id = "resp_gone"  # as after the server restarted
    with pytest.raises(HaoeeError) as info:
        ask(ip, "--chat lesson", "And 7?")
    assert "start the chat again with %haoee reset lesson" in str(info.value) and "NAME" not in str(info.value)


def test_chats_are_separate_and_reset_forgets_all(
    ip: InteractiveShell, magics: Any, state: Any, offline_server: Any
) -> None:
    ask(ip, "--chat a", "one")
    first_a = ip.user_ns["haoee_response"].id
    ask(ip, "--chat b", "two")
    ask(ip, "--chat a", "three")
    assert "previous_response_id" not in posts(offline_server)[1]
    assert posts(offline_server)[2]["previous_response_id"] == first_a
    assert "Earlier you asked: “one”" in ip.user_ns["haoee_response"].text
    captured = line_magic(ip, "reset")
    assert "Forgot 2 chats." in captured.stdout
    assert state.session.chats == {}
    assert "No chats yet" in everything_shown(line_magic(ip, "chats"))
    with pytest.raises(UsageError, match="No chat named 'ghost'.*%haoee chats"):
        line_magic(ip, "reset ghost")


# --- dry run and --raw -----------------------------------------------------------------------


def test_dry_run_shows_the_request_and_sends_nothing(ip: InteractiveShell, offline_server: Any) -> None:
    ip.user_ns["topic"] = "gradient descent"
    captured = ask(ip, "--dry-run -m gpt-5.2 --reasoning low -t 0.2", "Summarize {topic} in one sentence.")
    assert offline_server.requests == []
    plain = final_bundle(captured)["text/plain"]
    assert plain.startswith("Dry run: nothing was sent.")
    assert f"POST {offline_server.url}/responses" in plain
    assert "Authorization: Bearer sk-…" + FAKE_KEY[-4:] in plain
    body = json.loads(plain[plain.index("{") :])
    assert body == {
        "model": "gpt-5.2",
        "input": "Summarize gradient descent in one sentence.",
        "temperature": 0.2,
        "reasoning": {"effort": "low", "summary": "auto"},
        "stream": True,
    }
    assert "```http" in final_bundle(captured)["text/markdown"]
    assert FAKE_KEY not in everything_shown(captured) and KEY_MIDDLE not in everything_shown(captured)
    assert "haoee_response" not in ip.user_ns


def test_dry_run_shortens_image_data(ip: InteractiveShell, offline_server: Any) -> None:
    from PIL import Image

    ip.user_ns["pic"] = Image.new("RGB", (64, 64), "green")
    plain = final_bundle(ask(ip, "--dry-run --image pic", "What colour?"))["text/plain"]
    assert offline_server.requests == []
    assert "data:image/png;base64," in plain and "characters)" in plain


def test_raw_sends_the_cell_as_is(ip: InteractiveShell, offline_server: Any) -> None:
    ip.user_ns["topic"] = "entropy"
    ask(ip, "--raw -i 'Speak of {topic}.'", "Explain {topic} and {undefined_thing}")
    sent = one_post(offline_server)  # -i too: the magic's line is not filled by IPython either
    assert (sent["input"], sent["instructions"]) == ("Explain {topic} and {undefined_thing}", "Speak of {topic}.")


def test_instructions_are_filled_as_in_the_cell(ip: InteractiveShell, offline_server: Any) -> None:
    ip.user_ns["topic"] = "{braces}"
    ask(ip, "-i 'Speak of {topic}, not {{topic}}.'", "Hello")
    assert one_post(offline_server)["instructions"] == "Speak of {braces}, not {topic}."


# --- bad flags and values --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("-t 3", r"^--temperature must be from 0 to 2, not 3 \(see %%haoee\? for all options\)$"),
        ("-t hot", r"^--temperature must be a number from 0 to 2, not 'hot'"),
        ("--top-p 1.5", r"--top-p must be from 0 to 1"),
        ("--max-tokens 0", r"--max-tokens must be 1 or more"),
        ("--max-tokens lots", r"--max-tokens must be a whole number"),
        ("--reasoning extreme", r"--reasoning must be one of none, minimal, low"),
        ("-f pdf", r"--format must be one of markdown, text, code, json, html, math"),
        ("-o 1st", r"--out must be a Python variable name, not '1st'"),
        ("--chat 'my chat'", r"--chat must be a Python variable name, not 'my chat'"),
        ("--bogus", r"unrecognized arguments: --bogus.*%%haoee\?"),
        ("-m", r"expected one argument.*%%haoee\?"),
        ("-i 'unclosed", r"No closing quotation.*%%haoee\?"),
        (
            "--schema nowhere",
            r"--schema nowhere: no variable of that name; define a JSON Schema dict or a pydantic model",
        ),
        (
            "--schema some_number",
            r"--schema some_number: a int is not a schema; use a JSON Schema dict or a pydantic model",
        ),
    ],
)
def test_bad_flag_or_value_is_a_usage_error_and_sends_nothing(
    ip: InteractiveShell, offline_server: Any, line: str, message: str
) -> None:
    ip.user_ns["some_number"] = 7
    with pytest.raises(UsageError, match=message):
        ask(ip, line)
    assert offline_server.requests == []


def test_the_cell_magics_help_shows_its_usage_as_a_cell(ip: InteractiveShell) -> None:
    doc = ip.find_cell_magic("haoee").__doc__
    (usage,) = [line.strip() for line in doc.splitlines() if "[-m NAME]" in line][:1]
    assert usage.startswith("%%haoee [-m NAME] [-i TEXT]")


def test_empty_cell_is_a_usage_error(ip: InteractiveShell, offline_server: Any) -> None:
    with pytest.raises(UsageError, match="The cell is empty: write your prompt"):
        ask(ip, "", "\n   \n")
    assert offline_server.requests == []


# --- interpolation ---------------------------------------------------------------------------


def test_interpolation_fills_names_attributes_keys_and_calls(ip: InteractiveShell, offline_server: Any) -> None:
    import pandas as pd

    df = pd.DataFrame({"city": ["Oslo", "Lima", "Pune", "Kyiv", "Rome", "Doha"], "temp": [3, 19, 31, 8, 17, 35]})
    ip.user_ns.update(topic="entropy", paper=SimpleNamespace(title="On Heat"), cfg={"lang": "French"}, df=df)
    ask(ip, "", "Explain {topic} from {paper.title} in {cfg['lang']}; data:\n{df.head()}")
    assert one_post(offline_server)["input"] == f"Explain entropy from On Heat in French; data:\n{df.head()}"


def test_interpolation_fills_in_and_out(ip: InteractiveShell, offline_server: Any) -> None:
    ip.run_cell("6 * 7", store_history=True)
    number = ip.execution_count - 1
    ask(ip, "", f"The input was {{In[{number}]}} and the output {{Out[{number}]}}")
    assert one_post(offline_server)["input"] == "The input was 6 * 7 and the output 42"


def test_interpolation_fills_instructions(ip: InteractiveShell, offline_server: Any) -> None:
    ip.user_ns["audience"] = {"level": "beginner"}
    ask(ip, "-i 'Answer for a {audience[\"level\"]}.'")
    assert one_post(offline_server)["instructions"] == "Answer for a beginner."


def test_interpolation_fills_a_format_style_key(ip: InteractiveShell, offline_server: Any) -> None:
    # {name[key]} as in str.format, and as notebooks/quickstart.ipynb writes it
    ip.user_ns["audience"] = {"level": "beginner"}
    ask(ip, "", "Answer for a {audience[level]}.")
    assert one_post(offline_server)["input"] == "Answer for a beginner."


def test_interpolation_leaves_code_json_sets_and_latex_alone(ip: InteractiveShell, offline_server: Any) -> None:
    ip.user_ns["topic"] = "sets"
    cell = textwrap.dedent(
        r"""
        Explain {topic}. Keep JSON like {"steps": 3} as it is.
        def counts(words):
            return {word: words.count(word) for word in set(words)}
        primes = {2, 3, 5}
        empty = {}
        $\frac{a}{b} + x^{2} + e_{i}$ and \textbf{bold}
        Literal braces: {{topic}}
        """
    ).strip("\n")
    ask(ip, "", cell)
    sent = one_post(offline_server)["input"]
    assert sent == cell.replace("Explain {topic}", "Explain sets").replace("{{topic}}", "{topic}")


def test_undefined_reference_is_a_usage_error_naming_it(ip: InteractiveShell, offline_server: Any) -> None:
    with pytest.raises(UsageError) as info:
        ask(ip, "", "Explain {missing_topic} please")
    message = str(info.value)
    assert "'missing_topic'" in message and "not defined" in message
    assert "{{missing_topic}}" in message and "--raw" in message
    assert offline_server.requests == []


# --- display ---------------------------------------------------------------------------------


def test_answer_streams_into_one_display_updated_in_place(ip: InteractiveShell) -> None:
    captured = ask(ip)
    outputs = publishes(captured)
    assert len(outputs) >= 3  # placeholder, at least one streamed update, the final render
    display_ids = {output["transient"]["display_id"] for output in outputs}
    assert len(display_ids) == 1 and None not in display_ids
    assert [output["update"] for output in outputs] == [False] + [True] * (len(outputs) - 1)
    for output in outputs:
        assert output["data"].get("text/plain"), output  # every bundle has text/plain
    final = outputs[-1]["data"]
    assert set(final) == {"text/markdown", "text/plain"}
    assert re.search(r"<sub>" + FOOTER.format(model="gpt-4\\.1") + r"</sub>$", final["text/markdown"])
    assert re.search(r"\[" + FOOTER.format(model="gpt-4\\.1") + r"\]$", final["text/plain"])
    usage = ip.user_ns["haoee_usage"]
    assert f"{usage.input_tokens} in / {usage.output_tokens} out tokens" in final["text/plain"]


def _stream_updates(
    ip: InteractiveShell, offline_server: Any, per_second: float
) -> tuple[int, float, list[dict[str, Any]]]:
    """Intermediate updates (streamed text, not the final render) and the call's duration."""
    offline_server.latency_ms = 10
    ip.run_line_magic("config", f"Haoee.updates_per_second = {per_second}")
    started = time.perf_counter()
    captured = ask(ip, "", "Explain entropy")
    duration = time.perf_counter() - started
    outputs = publishes(captured)
    streamed = [o for o in outputs[1:-1] if o["update"]]
    return len(streamed), duration, outputs


def test_streaming_updates_are_rate_limited(ip: InteractiveShell, offline_server: Any) -> None:
    count, duration, outputs = _stream_updates(ip, offline_server, per_second=2)
    assert duration > 0.8, "the stream should take about a second at 10 ms per token"
    assert 1 <= count <= int(duration * 2) + 2, (count, duration)
    # The intermediate bundles show the text so far, with a cursor; the final one does not.
    assert outputs[1]["data"]["text/markdown"].endswith("▍")
    assert not outputs[-1]["data"]["text/markdown"].endswith("▍")
    assert len({o["transient"]["display_id"] for o in outputs}) == 1


def test_streaming_updates_follow_updates_per_second(ip: InteractiveShell, offline_server: Any) -> None:
    slow_count, _, _ = _stream_updates(ip, offline_server, per_second=2)
    fast_count, _duration, outputs = _stream_updates(ip, offline_server, per_second=1000)
    assert fast_count > max(10, 3 * slow_count), (fast_count, slow_count)
    texts = [o["data"]["text/plain"] for o in outputs[1:-1]]
    assert all(later.startswith(earlier) for earlier, later in zip(texts, texts[1:]))  # text only grows


def test_incomplete_answer_says_why_in_the_footer(ip: InteractiveShell) -> None:
    captured = ask(ip, "--max-tokens 20")
    response = ip.user_ns["haoee_response"]
    assert (response.status, response.incomplete_reason) == ("incomplete", "max_output_tokens")
    assert response.text  # the partial answer is kept
    bundle = final_bundle(captured)
    assert "incomplete: max_output_tokens" in bundle["text/markdown"]
    assert bundle["text/plain"].rstrip().endswith("incomplete: max_output_tokens]")


def test_refusal_is_shown(ip: InteractiveShell, http_server: Any) -> None:
    http_server.add(body=canned(refusal="I can't help with that."))
    ip.run_line_magic("config", f"Haoee.base_url = {http_server.url!r}")
    bundle = final_bundle(ask(ip))
    assert "The model refused:** I can't help with that." in bundle["text/markdown"]
    assert "The model refused: I can't help with that." in bundle["text/plain"]


# --- errors ----------------------------------------------------------------------------------


def test_server_error_is_one_line_and_error_subcommand_has_the_traceback(
    ip: InteractiveShell, offline_server: Any
) -> None:
    with capture_output() as captured:
        result = ip.run_cell("%%haoee -m fault-500\nHello")
    assert isinstance(result.error_in_exec, ServerError)
    what, *todo = captured.stdout.strip().splitlines()  # what happened, then what to do
    assert what.startswith("ServerError: ") and "HTTP 500" in what
    assert len(todo) <= 1 and all(line.startswith("→ ") for line in todo)
    shown = captured.stdout
    assert "Traceback" not in shown
    assert len(posts(offline_server)) == 1  # max_retries 0
    traceback_text = line_magic(ip, "error").stdout
    assert traceback_text.startswith("Traceback (most recent call last)")
    assert "ServerError" in traceback_text


def test_error_subcommand_without_an_error(ip: InteractiveShell) -> None:
    assert "No error in this session." in line_magic(ip, "error").stdout


@pytest.mark.parametrize(
    ("model", "error"),
    [("fault-reset", APIConnectionError), ("fault-truncated", ProtocolError), ("fault-malformed", ProtocolError)],
)
def test_broken_stream_keeps_the_partial_text(
    ip: InteractiveShell, magics: Any, state: Any, model: str, error: type[HaoeeError]
) -> None:
    with capture_output() as captured, pytest.raises(error) as info:
        ip.run_cell_magic("haoee", f"-m {model} -o partial", "Explain entropy")
    partial = ip.user_ns["partial"]
    assert partial and "## Offline demo answer".startswith(partial)
    assert ip.user_ns["haoee_response"].text == partial
    assert info.value.partial is not None and info.value.partial.text == partial
    assert len(str(info.value).splitlines()) == 1
    assert info.value._render_traceback_()[0].startswith(f"{type(info.value).__name__}: ")
    assert len([line for line in info.value._render_traceback_() if not line.startswith("  ")]) <= 2
    final = final_bundle(captured)
    assert partial.strip() in final["text/markdown"]
    assert "error (partial answer kept)" in final["text/plain"]
    assert state.session.calls[-1].status == "error"


def test_stalled_stream_times_out_quickly_with_partial_text(ip: InteractiveShell) -> None:
    ip.run_line_magic("config", "Haoee.timeout = 0.5")
    started = time.perf_counter()
    with capture_output(), pytest.raises(APITimeoutError) as info:
        ip.run_cell_magic("haoee", "-m fault-stall -o partial", "Explain entropy")
    assert time.perf_counter() - started < 3
    assert ip.user_ns["partial"] and ip.user_ns["haoee_response"].text == ip.user_ns["partial"]
    assert "%config Haoee.timeout" in str(info.value)


def test_rate_limit_is_retried(ip: InteractiveShell, offline_server: Any) -> None:
    offline_server.inject("429")
    ip.run_line_magic("config", "Haoee.max_retries = 1")
    ask(ip)
    assert len(posts(offline_server)) == 2
    assert ip.user_ns["haoee_response"].status == "completed"


def test_rate_limit_without_retries_is_an_error(ip: InteractiveShell, offline_server: Any) -> None:
    from haoee_jupyter import RateLimitError

    with pytest.raises(RateLimitError):
        ask(ip, "-m fault-429")
    assert len(posts(offline_server)) == 1


@pytest.mark.parametrize("model", ["fault-failed", "fault-error-event"])
def test_failed_response(ip: InteractiveShell, magics: Any, state: Any, model: str) -> None:
    with capture_output() as captured, pytest.raises(ResponseFailedError):
        ip.run_cell_magic("haoee", f"-m {model}", "Explain entropy")
    assert state.session.calls[-1].status == "failed"
    assert "failed" in final_bundle(captured)["text/plain"].splitlines()[-1]
    if model == "fault-error-event":  # it strikes after three deltas: they are kept
        assert (
            "## Offline demo answer".startswith(ip.user_ns["haoee_response"].text) and ip.user_ns["haoee_response"].text
        )


def test_authentication_error_never_shows_the_key(ip: InteractiveShell) -> None:
    with capture_output() as captured:
        result = ip.run_cell("%%haoee -m fault-401\nHello")
    assert type(result.error_in_exec).__name__ == "AuthenticationError"
    shown = everything_shown(captured) + str(result.error_in_exec) + repr(result.error_in_exec)
    assert FAKE_KEY not in shown and KEY_MIDDLE not in shown
    assert "%haoee key" in captured.stdout


def test_missing_key_says_how_to_set_one(ip: InteractiveShell, offline_server: Any) -> None:
    from haoee_jupyter import MissingAPIKeyError

    ip.run_line_magic("config", "Haoee.api_key = ''")
    with pytest.raises(MissingAPIKeyError, match="%haoee key.*HAOEE_API_KEY"):
        ask(ip)
    assert offline_server.requests == []


# --- Ctrl-C ----------------------------------------------------------------------------------


def _assert_interrupted(ip: InteractiveShell, magics: Any, captured: CapturedIO, info: Any) -> None:
    partial = ip.user_ns["haoee_response"].text
    final = final_bundle(captured)
    assert partial and partial in final["text/plain"]  # the partial answer stays on screen
    assert [call.status for call in magics.state.session.calls] == ["interrupted"]
    assert "interrupted" in final["text/markdown"]
    assert "interrupted" in final["text/plain"].splitlines()[-1]
    assert ip.user_ns["haoee_usage_total"].calls == 1
    assert info.value._render_traceback_()[0].startswith("Interrupted: the partial answer")


def test_keyboard_interrupt_keeps_the_partial_text(
    ip: InteractiveShell, magics: Any, offline_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from haoee_jupyter.notebook._display import NotebookView

    offline_server.latency_ms = 5
    original = NotebookView.update
    seen = {"updates": 0}

    def update(self: Any, call: Any, final: bool) -> None:
        original(self, call, final)
        if not final and call.text:
            seen["updates"] += 1
            if seen["updates"] == 3:
                raise KeyboardInterrupt

    monkeypatch.setattr(NotebookView, "update", update)
    ip.run_line_magic("config", "Haoee.updates_per_second = 1000")
    with capture_output() as captured, pytest.raises(KeyboardInterrupt) as info:
        ip.run_cell_magic("haoee", "-o partial", "Explain entropy")
    _assert_interrupted(ip, magics, captured, info)
    assert ip.user_ns.get("partial") == ip.user_ns["haoee_response"].text, "--out should hold the partial text too"


def test_real_sigint_during_a_stream(ip: InteractiveShell, magics: Any, offline_server: Any) -> None:
    offline_server.latency_ms = 10  # about 1.2 s for the whole answer
    timer = threading.Timer(0.3, _thread.interrupt_main)
    timer.start()
    try:
        with capture_output() as captured, pytest.raises(KeyboardInterrupt) as info:
            ip.run_cell_magic("haoee", "", "Explain entropy")
    finally:
        timer.cancel()
    _assert_interrupted(ip, magics, captured, info)
    partial = ip.user_ns["haoee_response"].text
    ask(ip, "--no-stream")
    whole = ip.user_ns["haoee_response"].text
    assert whole.startswith(partial) and len(partial) < len(whole)


def test_interrupt_before_anything_arrived_keeps_nothing_stale(ip: InteractiveShell, magics: Any, state: Any) -> None:
    """A real SIGINT while a --no-stream request waits: nothing arrived, so nothing is kept."""
    import signal

    ask(ip, "-o ans", "hello")
    first = ip.user_ns["ans"]
    ip.run_line_magic("config", "Haoee.timeout = 5")
    timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    try:
        with capture_output() as captured, pytest.raises(KeyboardInterrupt) as info:
            ip.run_cell_magic("haoee", "-m fault-stall --no-stream -o ans", "hello again")
    finally:
        timer.cancel()
    assert ip.user_ns["haoee_response"] is None and ip.user_ns["haoee_usage"].total_tokens == 0
    assert ip.user_ns["ans"] == first  # --out left as it was
    assert final_bundle(captured)["text/plain"].splitlines()[-1].endswith("interrupted (nothing had arrived)]")
    assert info.value._render_traceback_() == ["Interrupted: nothing had arrived yet."]
    assert ip.user_ns["haoee_usage_total"].calls == 2 and [c.status for c in state.session.calls] == [
        "completed",
        "interrupted",
    ]


@pytest.mark.parametrize(
    ("model", "status"),
    [
        ("fault-500", "error (nothing had arrived)"),
        ("fault-reset", "error (partial answer kept)"),
        ("fault-failed", "failed (nothing had arrived)"),
    ],
)
def test_the_footer_says_whether_anything_was_kept(ip: InteractiveShell, model: str, status: str) -> None:
    with capture_output() as captured, pytest.raises(HaoeeError):
        ip.run_cell_magic("haoee", f"-m {model}", "Explain entropy")
    final = final_bundle(captured)
    assert final["text/plain"].splitlines()[-1].endswith(f" · {status}]")
    assert status in final["text/markdown"]


# --- variables -------------------------------------------------------------------------------


def test_variables_after_every_call(ip: InteractiveShell) -> None:
    from haoee_jupyter import Response, Usage

    ask(ip)
    first = ip.user_ns["haoee_response"]
    assert isinstance(first, Response) and first.status == "completed"
    assert isinstance(ip.user_ns["haoee_usage"], Usage) and ip.user_ns["haoee_usage"] == first.usage
    assert ip.user_ns["haoee_usage_total"].calls == 1
    ask(ip, "-m gpt-5.2 --no-stream")
    second = ip.user_ns["haoee_response"]
    total = ip.user_ns["haoee_usage_total"]
    assert second.id != first.id and second.model == "gpt-5.2"
    assert total.calls == 2
    assert total.total_tokens == first.usage.total_tokens + second.usage.total_tokens
    assert total.input_tokens == first.usage.input_tokens + second.usage.input_tokens
    assert set(total.by_model) == {"gpt-4.1", "gpt-5.2"}
    assert total.by_model["gpt-5.2"].output_tokens == second.usage.output_tokens


def test_failed_call_still_updates_the_total(ip: InteractiveShell) -> None:
    ask(ip)
    with pytest.raises(APIConnectionError):
        ask(ip, "-m fault-reset")
    assert ip.user_ns["haoee_usage_total"].calls == 2


# --- line magics -----------------------------------------------------------------------------


def test_config_subcommand_masks_the_key_and_names_sources(
    ip: InteractiveShell, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HAOEE_MODEL", "env-model")
    captured = line_magic(ip, "config")
    shown = everything_shown(captured)
    assert FAKE_KEY not in shown and KEY_MIDDLE not in shown
    plain = final_bundle(captured)["text/plain"]
    assert re.search(r"^model\s+env-model\s+\$HAOEE_MODEL$", plain, re.M)
    assert re.search(r"^api_key\s+sk-…" + FAKE_KEY[-4:] + r"\s+%config Haoee.api_key$", plain, re.M)
    assert re.search(r"^max_retries\s+0\s+", plain, re.M)


def test_key_subcommand_reads_the_key_with_getpass(
    ip: InteractiveShell, magics: Any, http_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    typed = "sk-typed-in-key-abcdefgh5678"
    prompts: list[str] = []
    monkeypatch.setattr("getpass.getpass", lambda prompt="": prompts.append(prompt) or typed)
    ip.run_line_magic("config", f"Haoee.base_url = {http_server.url!r}")
    http_server.add(body=canned("hi"))
    ask(ip)  # a client is built with the configured key ...
    captured = line_magic(ip, "key")
    assert prompts and "hidden" in prompts[0]
    assert magics.api_key == typed
    assert typed not in captured.stdout and "…5678" in captured.stdout
    assert "haoee_jupyter.Client()" in captured.stdout  # says where the key applies
    ask(ip)  # ... and the next call sends the new one: no stale key
    assert [r.headers["authorization"] for r in http_server.requests] == [f"Bearer {FAKE_KEY}", f"Bearer {typed}"]
    assert re.search(r"^api_key\s+sk-…5678\s+%haoee key$", final_bundle(line_magic(ip, "config"))["text/plain"], re.M)


def test_key_subcommand_without_stdin_says_what_to_do(
    ip: InteractiveShell, magics: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from IPython.core.error import StdinNotImplementedError

    def no_stdin(prompt: str = "") -> str:
        # what ipykernel's getpass raises when the frontend does not allow input
        raise StdinNotImplementedError("getpass was called, but this frontend does not support input requests.")

    monkeypatch.setattr("getpass.getpass", no_stdin)
    with capture_output() as captured:
        result = ip.run_cell("%haoee key")
    assert isinstance(result.error_in_exec, UsageError)
    message = str(result.error_in_exec)
    assert "\n" not in message and "cannot ask for input" in message and "HAOEE_API_KEY" in message
    assert "Traceback" not in captured.stdout + captured.stderr
    assert magics.api_key == FAKE_KEY


def test_key_subcommand_with_nothing_entered(
    ip: InteractiveShell, magics: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("getpass.getpass", lambda prompt="": "  ")
    assert "nothing changed" in line_magic(ip, "key").stdout
    assert magics.api_key == FAKE_KEY


def test_usage_subcommand_lists_the_calls(ip: InteractiveShell) -> None:
    assert "No calls yet" in final_bundle(line_magic(ip, "usage"))["text/plain"]
    with capture_output():
        first = ip.execution_count
        ip.run_cell("%%haoee\nExplain entropy | with `code`", store_history=True)
        second = ip.execution_count
        ip.run_cell(
            "%%haoee -m gpt-5.2 --max-tokens 20\nA much longer prompt that goes on\nand on past forty",
            store_history=True,
        )
    table = final_bundle(line_magic(ip, "usage"))["text/markdown"]
    total = ip.user_ns["haoee_usage_total"]
    rows = [[cell.strip() for cell in re.split(r"(?<!\\)\|", line)[1:-1]] for line in table.splitlines()[2:]]
    assert rows[0][:5] == ["1", f"In [{first}]", "Explain entropy \\| with \\`code\\`", "gpt-4.1", "completed"]
    assert rows[1][:5] == ["2", f"In [{second}]", "A much longer prompt that goes on and…", "gpt-5.2", "incomplete"]
    assert rows[2][3:8] == [
        "**total**",
        "2 calls",
        f"{total.input_tokens:,}",
        f"{total.output_tokens:,}",
        f"{total.total_tokens:,}",
    ]


def test_models_subcommand(ip: InteractiveShell) -> None:
    from haoee_jupyter.offline import MODELS

    bundle = final_bundle(line_magic(ip, "models"))
    assert sorted(bundle["text/plain"].split("\n")) == sorted(MODELS)
    assert "- `gpt-4.1`" in bundle["text/markdown"]


def test_models_subcommand_on_a_server_without_the_list(ip: InteractiveShell, http_server: Any) -> None:
    http_server.add(status=404, body=b'{"error": {"message": "Not found", "type": "invalid_request_error"}}')
    ip.run_line_magic("config", f"Haoee.base_url = {http_server.url!r}")
    with pytest.raises(UsageError, match=r"does not list its models.*HTTP 404.*use -m"):
        line_magic(ip, "models")
    assert http_server.requests[0].path == "/v1/models"


def test_offline_subcommand_starts_and_stops_a_server(
    ip: InteractiveShell, magics: Any, state: Any, offline_server: Any
) -> None:
    captured = line_magic(ip, "offline --latency-ms 0")
    started = state.offline_server
    assert started is not None and started.url != offline_server.url
    shown = final_bundle(captured)  # Markdown, one short paragraph; plain text without its markup
    assert set(shown) == {"text/markdown", "text/plain"} and captured.stdout == ""
    assert f"`{started.url}`" in shown["text/markdown"] and "`%haoee offline stop`" in shown["text/markdown"]
    assert started.url in shown["text/plain"] and "%haoee offline stop" in shown["text/plain"]
    assert "`" not in shown["text/plain"] and "**" not in shown["text/plain"] and "\n" not in shown["text/plain"]
    config = final_bundle(line_magic(ip, "config"))["text/plain"]
    assert re.search(r"^base_url\s+" + re.escape(started.url) + r"\s+%haoee offline$", config, re.M)
    ask(ip)
    assert offline_server.requests == [] and len(posts(started)) == 1

    line_magic(ip, "offline --latency-ms 3")  # again: the same server, new latency
    assert state.offline_server is started and started.latency_ms == 3

    assert "stopped" in line_magic(ip, "offline stop").stdout
    assert state.offline_server is None and not started.running
    assert magics.base_url == offline_server.url and magics.api_key == FAKE_KEY
    assert "not running" in line_magic(ip, "offline stop").stdout
    with pytest.raises(
        UsageError, match=r"^%haoee offline: --latency-ms must be 0 or more.*not soon \(usage: %haoee offline"
    ):
        line_magic(ip, "offline --latency-ms soon")


@pytest.mark.skipif(
    importlib.util.find_spec("haoee_jupyter.notebook._form") is None,
    reason="haoee_jupyter.notebook._form is not written yet",
)
def test_form_subcommand_displays_a_widget(ip: InteractiveShell) -> None:
    captured = line_magic(ip, "form")
    assert any("application/vnd.jupyter.widget-view+json" in output["data"] for output in publishes(captured))


def test_help_subcommand_lists_every_subcommand(ip: InteractiveShell) -> None:
    from haoee_jupyter.notebook._subcommands import SUBCOMMANDS

    shown = line_magic(ip, "help").stdout
    for name in SUBCOMMANDS:
        assert f"%haoee {name}" in shown
    assert "%%haoee [options]" in shown
    listed = [line.split()[1] for line in shown.splitlines() if line.startswith("%haoee ")]
    assert listed == list(SUBCOMMANDS)  # one line each, in the order the magic knows them
    assert line_magic(ip, "").stdout == shown  # bare %haoee is help


def test_unknown_subcommand_is_a_usage_error(ip: InteractiveShell, offline_server: Any) -> None:
    with pytest.raises(UsageError, match=r"Unknown subcommand 'explain'.*start a cell with %%haoee"):
        line_magic(ip, "explain entropy")
    assert offline_server.requests == []


# --- the key never shows -----------------------------------------------------------------------


def test_key_never_appears_in_anything_shown(
    ip: InteractiveShell, magics: Any, state: Any, offline_server: Any
) -> None:
    shown: list[str] = []
    for line in ("", "--dry-run", "-f text", "--web --no-stream", "-f json"):
        with capture_output() as captured:
            try:
                ip.run_cell_magic("haoee", line, "Hello")
            except UsageError as e:  # -f json: the demo answer is not JSON
                shown.append(str(e))
        shown.append(everything_shown(captured))
    for command in ("config", "usage", "chats", "error"):
        shown.append(everything_shown(line_magic(ip, command)))
    with capture_output() as captured:
        ip.run_line_magic("config", "Haoee")
        result = ip.run_cell("%%haoee -m fault-401\nHello")
        ip.run_line_magic("haoee", "error")
    shown += [everything_shown(captured), str(result.error_in_exec), repr(result.error_in_exec)]
    shown += [repr(magics.api_key), repr(state.client()), repr(ip.user_ns["haoee_response"])]
    everything = "\n".join(shown)
    assert FAKE_KEY not in everything and KEY_MIDDLE not in everything
    assert offline_server.requests and all(r["authorization_present"] for r in offline_server.requests)


# --- loading from ipython_config.py, and lazy imports (fresh processes) ----------------------


def _subprocess_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HAOEE_")}
    env.update(IPYTHONDIR=str(tmp_path / "ipythondir"), PYTHONDONTWRITEBYTECODE="1", **extra)
    return env


def test_extension_autoloads_from_ipython_config(tmp_path: Path, offline_server: Any) -> None:
    profile = tmp_path / "profile"
    profile.mkdir()
    (profile / "ipython_config.py").write_text(
        'c.InteractiveShellApp.extensions = ["haoee_jupyter"]\nc.Haoee.model = "cfg-model"\n'
    )
    env = _subprocess_env(tmp_path, HAOEE_BASE_URL=offline_server.url, HAOEE_API_KEY=FAKE_KEY)
    command = [sys.executable, "-m", "IPython", "--no-banner", "--colors=NoColor", f"--profile-dir={profile}", "-c"]
    config = subprocess.run([*command, "%haoee config"], env=env, capture_output=True, text=True, timeout=60)
    assert config.returncode == 0, config.stderr
    assert re.search(r"^model\s+cfg-model\s+%config Haoee.model$", config.stdout, re.M), config.stdout
    dry_run = subprocess.run(
        [*command, "%%haoee --dry-run\nhello"], env=env, capture_output=True, text=True, timeout=60
    )
    assert dry_run.returncode == 0, dry_run.stderr
    assert "ModelName: cfg-model" in dry_run.stdout and '"model": "cfg-model"' in dry_run.stdout
    for output in (config.stdout, dry_run.stdout, config.stderr, dry_run.stderr):
        assert FAKE_KEY not in output and KEY_MIDDLE not in output
    assert offline_server.requests == []


def test_httpx_is_not_imported_until_the_first_call(tmp_path: Path, offline_server: Any) -> None:
    script = textwrap.dedent(
        """
        import sys
        import haoee_jupyter
        assert "httpx" not in sys.modules, "import haoee_jupyter imported httpx"
        from IPython.core.interactiveshell import InteractiveShell
        ip = InteractiveShell.instance()
        assert "httpx" not in sys.modules, "IPython itself imported httpx: this test proves nothing"
        ip.run_line_magic("load_ext", "haoee_jupyter")
        for heavy in ("httpx", "ipywidgets"):
            assert heavy not in sys.modules, f"%load_ext haoee_jupyter imported {heavy}"
        ip.run_cell_magic("haoee", "-f text", "hi")
        assert "httpx" in sys.modules
        print("LAZY-OK")
        """
    )
    env = _subprocess_env(tmp_path, HAOEE_BASE_URL=offline_server.url, HAOEE_API_KEY=FAKE_KEY)
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "LAZY-OK" in result.stdout
    assert len(posts(offline_server)) == 1


def test_import_time_has_no_heavy_modules(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import haoee_jupyter"],
        env=_subprocess_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    imported = {
        line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines() if line.startswith("import time:")
    }
    assert "haoee_jupyter" in imported
    for heavy in ("httpx", "IPython", "ipywidgets", "sqlite3", "traitlets"):
        assert heavy not in imported, f"import haoee_jupyter imported {heavy}"


# --- review follow-ups ------------------------------------------------------------------------


def test_braces_inside_markdown_code_are_the_codes_own(ip: InteractiveShell, offline_server: Any) -> None:
    ip.user_ns.update(x=1, a=2, topic="entropy")
    ask(
        ip, "", "Fix this:\n```python\nprint(f'{x} items')\nd = {a}\nprint(f'{undefined}')\n```\nand {topic}, not `{x}`"
    )
    sent = one_post(offline_server)["input"]
    assert "print(f'{x} items')\nd = {a}\nprint(f'{undefined}')" in sent
    assert "and entropy, not `{x}`" in sent


@pytest.mark.parametrize(
    ("cell", "sent"),
    [
        (
            "Fix this:\n```python\nprint(f'{x} items')\nd = {a}\n```\nand {topic}",
            "Fix this:\n```python\nprint(f'{x} items')\nd = {a}\n```\nand entropy",
        ),
        (
            "~~~ {.python title='t'}\nf'{undefined}'\n~~~\n{topic}",
            "~~~ {.python title='t'}\nf'{undefined}'\n~~~\nentropy",
        ),
        ("````\n{undefined}\n`````\n{topic}", "````\n{undefined}\n`````\nentropy"),  # a longer fence closes it
        ("````md\n```\n{undefined}\n```\n````\n{topic}", "````md\n```\n{undefined}\n```\n````\nentropy"),
        ("a `{x}` b {topic} c `{a}`", "a `{x}` b entropy c `{a}`"),  # two spans, not one from first to last
        (
            "``f'{undefined}'`` and ```{undefined}``` then {topic}",
            "``f'{undefined}'`` and ```{undefined}``` then entropy",
        ),
        ("Unclosed:\n```js\nconst o = {undefined};", "Unclosed:\n```js\nconst o = {undefined};"),
        ("it's `{topic} without a closing backtick", "it's `entropy without a closing backtick"),
    ],
)
def test_only_braces_outside_markdown_code_are_filled(
    ip: InteractiveShell, offline_server: Any, cell: str, sent: str
) -> None:
    ip.user_ns.update(x=1, a=2, topic="entropy")
    ask(ip, "", cell)
    assert one_post(offline_server)["input"] == sent


def test_a_failure_with_nothing_received_never_leaves_the_previous_answer(ip: InteractiveShell) -> None:
    ask(ip, "-o ans", "hello")
    first = ip.user_ns["ans"]
    assert first and ip.user_ns["haoee_response"] is not None
    with pytest.raises(HaoeeError):
        ask(ip, "-m fault-401 -o ans", "hello again")
    assert ip.user_ns["haoee_response"] is None
    assert ip.user_ns["haoee_usage"].total_tokens == 0
    assert ip.user_ns["ans"] == first  # nothing arrived: --out left as it was


def test_the_total_counts_every_call_the_usage_table_lists(ip: InteractiveShell, magics: Any, state: Any) -> None:
    ask(ip, "", "one")
    with pytest.raises(HaoeeError):
        ask(ip, "-m fault-500", "two")
    total = ip.user_ns["haoee_usage_total"]
    assert total.calls == len(state.session.calls) == 2
    assert "2 calls" in state.session.usage_table()
    hash(total)


@pytest.mark.parametrize("line", ["--schema schema --max-tokens 16 -o parsed", "-f json --max-tokens 16 -o parsed"])
def test_json_cut_off_by_the_token_limit_says_so(ip: InteractiveShell, line: str) -> None:
    # Ten properties: the offline server's JSON needs far more than 16 tokens, so it is cut off.
    ip.user_ns["schema"] = {
        "type": "object",
        "properties": {k: {"type": "string"} for k in "abcdefghij"},
        "required": list("abcdefghij"),
    }
    with pytest.raises(UsageError) as info:
        ask(ip, line, "Describe a country as JSON")
    assert ip.user_ns["haoee_response"].status == "incomplete"
    message = str(info.value)
    assert message.startswith("The answer was cut off (max_output_tokens) before its JSON was complete")
    assert "Raise --max-tokens" in message and "--schema" not in message
    assert ip.user_ns["parsed"] == ip.user_ns["haoee_response"].text  # the partial text is kept


def test_config_shows_values_without_html_entities(ip: InteractiveShell) -> None:
    markdown = final_bundle(line_magic(ip, "config"))["text/markdown"]
    assert "&#x27;" not in markdown and "`'markdown'`" in markdown
    assert FAKE_KEY not in markdown and KEY_MIDDLE not in markdown


def _config_rows(ip: InteractiveShell) -> dict[str, tuple[str, str]]:
    """%haoee config's Markdown table as {setting: (value cell, from cell)}; cells split on unescaped |."""
    rows = {}
    for line in final_bundle(line_magic(ip, "config"))["text/markdown"].splitlines()[2:]:
        cells = [cell.strip() for cell in re.split(r"(?<!\\)\|", line)[1:-1]]
        assert len(cells) == 3, line
        rows[cells[0]] = (cells[1], cells[2])
    return rows


def test_config_shows_values_exactly_in_code_spans(ip: InteractiveShell, offline_server: Any) -> None:
    ip.run_line_magic("config", "Haoee.instructions = 'Use `code` | pipes & <tags>'")
    rows = _config_rows(ip)
    assert rows["instructions"] == ("``'Use `code` \\| pipes & <tags>'``", "%config Haoee.instructions")
    assert rows["format"] == ("`'markdown'`", "default")


def test_config_shows_the_resolved_values(
    ip: InteractiveShell, magics: Any, offline_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    ip.run_line_magic("config", f"Haoee.base_url = {offline_server.url + '/responses/'!r}")  # a pasted endpoint URL
    monkeypatch.setenv("HAOEE_MODEL", "env-model")
    rows = _config_rows(ip)
    assert rows["base_url"] == (f"`{offline_server.url}`", "%config Haoee.base_url")  # as the client will use it
    assert rows["model"] == ("`env-model`", "$HAOEE_MODEL")
    ip.run_line_magic("config", "Haoee.base_url = 'ftp://example.com'")
    value, source = _config_rows(ip)["base_url"]
    assert (
        value.startswith("`unusable: The base URL 'ftp://example.com' is not an http(s) URL")
        and source == "%config Haoee.base_url"
    )
    ip.run_line_magic("config", "Haoee.api_key = ''")
    assert _config_rows(ip)["api_key"] == ("", "not set: run %haoee key")


def test_backslashes_in_option_values_survive(ip: InteractiveShell, tmp_path: Any) -> None:
    with pytest.raises(UsageError, match=r"C:\\Users\\me\\cat\.png"):
        ask(ip, r"--image C:\Users\me\cat.png", "What is in the picture?")


@pytest.mark.parametrize(
    ("option", "sent"),
    [
        ('"don\'t"', "don't"),
        ("'a \"b\"'", 'a "b"'),
        ("'It'\"'\"'s \"both\"'", 'It\'s "both"'),
        (r'"C:\temp\new"', r"C:\temp\new"),
        (r"C:\temp\new", r"C:\temp\new"),
        (r"'\n stays \t'", r"\n stays \t"),
        ("C#", "C#"),  # not a comment
    ],
)
def test_option_quoting_is_posix_with_backslashes_kept(
    ip: InteractiveShell, offline_server: Any, option: str, sent: str
) -> None:
    ask(ip, f"-i {option} -t 0.5", "hi")
    assert one_post(offline_server)["instructions"] == sent
    assert one_post(offline_server)["temperature"] == 0.5  # nothing after the value was lost


@pytest.mark.parametrize(
    "setting",
    [
        "timeout = 0",
        "connect_timeout = -1",
        "temperature = 5",
        "max_output_tokens = 0",
        "max_retries = -1",
        "updates_per_second = 0",
    ],
)
def test_bad_settings_are_refused(magics: Any, setting: str) -> None:
    name, value = (part.strip() for part in setting.split("="))
    before = getattr(magics, name)
    with pytest.raises(TraitError):
        setattr(magics, name, type(before)(value) if before is not None else float(value))
    assert getattr(magics, name) == before


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("timeout = 0", "Haoee.timeout must be a number more than 0, not 0"),
        ("connect_timeout = -1", "Haoee.connect_timeout must be a number more than 0, not -1"),
        ("timeout = float('nan')", "Haoee.timeout must be a number more than 0, not nan"),
        ("temperature = 2.5", "Haoee.temperature must be from 0 to 2 (or None for the model's default), not 2.5"),
        ("max_output_tokens = 0", "Haoee.max_output_tokens must be 1 or more, not 0"),
        ("max_retries = -1", "Haoee.max_retries must be 0 or more, not -1"),
        ("updates_per_second = 0", "Haoee.updates_per_second must be a number more than 0, not 0"),
    ],
)
def test_a_bad_config_value_says_the_allowed_range(
    ip: InteractiveShell, magics: Any, caplog: pytest.LogCaptureFixture, setting: str, message: str
) -> None:
    name, value = (part.strip() for part in setting.split("="))
    before = getattr(magics, name)
    ip.run_line_magic("config", f"Haoee.{setting}")  # %config reports the TraitError as a logged error
    assert getattr(magics, name) == before
    assert any(record.getMessage().startswith(message) for record in caplog.records), caplog.text
    with pytest.raises(TraitError, match=re.escape(message)):
        setattr(magics, name, eval(value))
    assert getattr(magics, name) == before


@pytest.mark.parametrize(
    "setting",
    [
        "temperature = None",
        "temperature = 0",
        "temperature = 2",
        "max_output_tokens = None",
        "max_output_tokens = 1",
        "max_retries = 0",
        "timeout = 0.5",
    ],
)
def test_edge_config_values_are_accepted(ip: InteractiveShell, magics: Any, setting: str) -> None:
    name, value = (part.strip() for part in setting.split("="))
    ip.run_line_magic("config", f"Haoee.{setting}")
    assert getattr(magics, name) == eval(value)


def test_offline_latency_accepts_fractions_and_refuses_negatives(ip: InteractiveShell, magics: Any, state: Any) -> None:
    assert "(2.5 ms per token)" in final_bundle(line_magic(ip, "offline --latency-ms 2.5"))["text/plain"]
    assert state.offline_server.latency_ms == 2.5
    for bad in ("-1", "nan", "inf"):
        with pytest.raises(
            UsageError, match=r"--latency-ms must be 0 or more \(milliseconds between streamed tokens\), not "
        ):
            line_magic(ip, f"offline --latency-ms {bad}")
    assert state.offline_server.latency_ms == 2.5


def test_web_search_shows_what_was_searched(ip: InteractiveShell) -> None:
    bundle = final_bundle(ask(ip, "--web", "Python release dates"))
    assert "Searched the web for: Python release dates" in bundle["text/markdown"]
    assert "Sources" in bundle["text/plain"] and "Searched the web for" in bundle["text/plain"]


def test_reasoning_asks_for_a_summary_and_shows_it_folded(ip: InteractiveShell, offline_server: Any) -> None:
    bundle = final_bundle(ask(ip, "--reasoning low -m gpt-5.2", "Why is the sky blue?"))
    assert one_post(offline_server)["reasoning"] == {"effort": "low", "summary": "auto"}
    summary = ip.user_ns["haoee_response"].reasoning
    assert summary and summary[0]
    markdown = bundle["text/markdown"]
    assert markdown.startswith("<details><summary") and ">Reasoning</summary>" in markdown
    assert f"\n\n{summary[0]}\n\n</div>\n</details>\n" in markdown


def test_summary_parts_are_paragraphs_and_searches_are_listed(ip: InteractiveShell, http_server: Any) -> None:
    answer = {
        "id": "resp_r",
        "object": "response",
        "status": "completed",
        "model": "canned-model",
        "output": [
            {
                "type": "reasoning",
                "id": "rs_1",
                "summary": [
                    {"type": "summary_text", "text": "**First** part."},
                    {"type": "summary_text", "text": "Second part."},
                ],
            },
            {
                "type": "web_search_call",
                "id": "ws_1",
                "status": "completed",
                "action": {"type": "search", "queries": ["q one", "q <two>"]},
            },
            {
                "type": "message",
                "id": "msg_1",
                "role": "assistant",
                "status": "completed",
                "content": [
                    {
                        "type": "output_text",
                        "text": "See here.",
                        "annotations": [
                            {
                                "type": "url_citation",
                                "start_index": 4,
                                "end_index": 8,
                                "url": "https://example.org/a",
                                "title": "A page",
                            }
                        ],
                    }
                ],
            },
        ],
        "usage": {"input_tokens": 3, "output_tokens": 5, "total_tokens": 8},
    }
    http_server.add(body=json.dumps(answer).encode())
    ip.run_line_magic("config", f"Haoee.base_url = {http_server.url!r}")
    bundle = final_bundle(ask(ip, "--web --reasoning low"))
    markdown, plain = bundle["text/markdown"], bundle["text/plain"]
    assert (
        ">Reasoning</summary>" in markdown and "\n\n**First** part.\n\nSecond part.\n\n</div>\n</details>" in markdown
    )
    assert (
        markdown.index("See here.")
        < markdown.index("1. [A page](https://example.org/a)")
        < markdown.index("<sub>Searched the web for: q one; q &lt;two&gt;</sub>")
    )
    assert plain.index("Sources:\n  1. A page <https://example.org/a>") < plain.index(
        "Searched the web for: q one; q <two>"
    )


def test_unload_leaves_no_trace(ip: InteractiveShell, state: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    line_magic(ip, "offline --latency-ms 0")
    server = state.offline_server
    client = state.client()
    closed: list[Any] = []
    close = type(client).close
    monkeypatch.setattr(type(client), "close", lambda self: closed.append(self) or close(self))
    ip.run_line_magic("unload_ext", "haoee_jupyter")
    try:
        assert not server.running and state.offline_server is None
        assert closed == [client]
        assert ip.find_cell_magic("haoee") is None and ip.find_line_magic("haoee") is None
    finally:
        ip.run_line_magic("load_ext", "haoee_jupyter")


def test_a_plain_client_reads_only_its_arguments_and_the_environment(
    ip: InteractiveShell, http_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The magic's settings (%config, %haoee key, %haoee offline) never reach a Client() made by hand."""
    from haoee_jupyter import Client, MissingAPIKeyError

    monkeypatch.setattr("getpass.getpass", lambda prompt="": "sk-typed-in-key-abcdefgh5678")
    line_magic(ip, "key")
    ip.run_line_magic("config", "Haoee.model = 'from-config'")
    line_magic(ip, "offline --latency-ms 0")
    with Client() as client:
        assert client.base_url == "https://maas.haoee.com/v1" and client.model == "gpt-4.1"
        with pytest.raises(MissingAPIKeyError):
            client.respond("hi")
    monkeypatch.setenv("HAOEE_BASE_URL", http_server.url)
    monkeypatch.setenv("HAOEE_API_KEY", "sk-from-the-environment-1234")
    http_server.add(body=canned("hi"))
    with Client() as client:
        client.respond("hi")
    [request] = http_server.requests
    assert request.headers["authorization"] == "Bearer sk-from-the-environment-1234"
    assert request.json["model"] == "gpt-4.1"
    ip.run_line_magic("unload_ext", "haoee_jupyter")
    try:
        with Client() as client:
            assert client.base_url == http_server.url + "/v1"
    finally:
        ip.run_line_magic("load_ext", "haoee_jupyter")
