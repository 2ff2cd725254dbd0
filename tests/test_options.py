"""The option table against what is made from it: the magic's parser and help, the form's fields,
Copy as cell, the README reference; and its messages through the magic and the form."""

from __future__ import annotations

import asyncio
import html
import io
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ipywidgets
import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

from haoee_jupyter.notebook._core import prepare
from haoee_jupyter.notebook._form import FIELDS, form
from haoee_jupyter.notebook._options import (
    FORM_OPTIONS,
    OPTIONS,
    all_flags,
    from_namespace,
    reference_markdown,
    resolve,
    split_line,
)
from haoee_jupyter.notebook._session import Session


@pytest.fixture(scope="module")
def ip() -> InteractiveShell:
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "haoee_jupyter")
    return shell


@pytest.fixture
def magics(ip: InteractiveShell) -> Any:
    return ip.magics_manager.registry["Haoee"]


@pytest.fixture(autouse=True)
def clean(ip: InteractiveShell, magics: Any, offline_server: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in [name for name in os.environ if name.startswith("HAOEE_")]:
        monkeypatch.delenv(name)
    for name, trait in type(magics).class_traits(config=True).items():
        setattr(magics, name, trait.default_value)
    magics.base_url, magics.api_key, magics.max_retries = offline_server.url, "offline-demo", 0
    magics.state.session = Session()
    yield
    for name, trait in type(magics).class_traits(config=True).items():
        setattr(magics, name, trait.default_value)
    magics.state.replace_clients()


def parse(magics: Any, line: str) -> Any:
    """The Options the magic reads from a %%haoee line."""
    return from_namespace(magics.haoee.parser.parse_args(split_line(line.removeprefix("%%haoee"))))


def every_input(widget: Any) -> Iterator[Any]:
    """Every value-holding widget inside a form, depth first."""
    for child in getattr(widget, "children", ()):
        if isinstance(child, (ipywidgets.Text, ipywidgets.Textarea, ipywidgets.Checkbox, ipywidgets.Dropdown)):
            yield child
        yield from every_input(child)


# --- the parser and %%haoee? -----------------------------------------------------------------


def test_the_parser_has_exactly_the_tables_options(magics: Any) -> None:
    actions = magics.haoee.parser._actions
    assert {action.dest for action in actions} == {option.name for option in OPTIONS}
    assert sorted(flag for action in actions for flag in action.option_strings) == sorted(all_flags())


def test_full_help_lists_every_flag_with_its_help(ip: InteractiveShell) -> None:
    doc = ip.find_cell_magic("haoee").__doc__
    flat = " ".join(doc.split())
    for flag in all_flags():
        assert re.search(rf"(^|[\s,\[]){re.escape(flag)}\b", doc), flag
    for option in OPTIONS:
        assert " ".join(option.help.split()) in flat, option.name
    # the help is in the table's order
    positions = [doc.index(f"  {option.flags[0]}") for option in OPTIONS]
    assert positions == sorted(positions)


def test_the_help_lists_every_subcommand(ip: InteractiveShell) -> None:
    from haoee_jupyter.notebook._subcommands import SUBCOMMANDS

    doc = ip.find_cell_magic("haoee").__doc__
    for command in SUBCOMMANDS.values():
        assert command.usage() in doc


# --- the form ---------------------------------------------------------------------------------


def test_every_option_with_a_widget_is_a_field_of_the_form() -> None:
    f = form()
    inputs = list(every_input(f))
    assert FIELDS == ("prompt", *(option.name for option in FORM_OPTIONS))
    for option in FORM_OPTIONS:
        widget = getattr(f, option.name)
        assert widget in inputs, option.name
        assert widget.description == option.label
        assert f"haoee-{option.name.replace('_', '-')}" in widget._dom_classes
    # and nothing else takes a value, but the prompt and the copied cell's text
    assert sorted(id(w) for w in inputs) == sorted(
        id(w) for w in [*(getattr(f, o.name) for o in FORM_OPTIONS), f.prompt, f.copy_text]
    )


def test_the_form_offers_what_the_issue_lists() -> None:
    names = {option.name for option in FORM_OPTIONS}
    wanted = {"model", "instructions", "temperature", "top_p", "max_tokens", "reasoning", "web", "stream"}
    assert wanted | {"chat", "format", "images", "schema"} <= names
    assert not names & {"out", "raw", "dry_run"}  # a form shows its answer, always fills, always sends


@pytest.fixture
def filled(ip: InteractiveShell, tmp_path: Path) -> Any:
    """A form with every field set to something other than its default, and what it refers to."""
    from PIL import Image
    from pydantic import BaseModel

    class Book(BaseModel):
        title: str
        year: int

    picture = tmp_path / "my pictures" / "cat.png"
    picture.parent.mkdir()
    buffer = io.BytesIO()
    Image.new("RGB", (2, 2), "red").save(buffer, format="PNG")
    picture.write_bytes(buffer.getvalue())
    ip.user_ns.update(Book=Book, topic="entropy", pic=Image.new("RGB", (3, 3), "blue"))
    f = form(
        model="gpt-5.2",
        instructions="Don't guess; cite {topic}.",
        prompt="Explain {topic}\nin two lines",
        temperature=0.7,
        top_p=0.25,
        max_tokens=200,
        reasoning="low",
        web=True,
        stream=False,
        format="json",
        schema="Book",
        images=[str(picture), "pic", "https://example.org/a.png"],
        chat="lesson",
    )
    options = f.options()
    for option in FORM_OPTIONS:  # nothing left at "not given"
        assert getattr(options, option.name) not in (None, "", [], False) or option.name == "stream", option.name
    return f


def test_copy_as_cell_round_trips_to_the_same_options_and_request(magics: Any, filled: Any) -> None:
    line, cell = filled.cell_text().split("\n", 1)
    assert cell == "Explain {topic}\nin two lines"
    parsed = parse(magics, line)
    settings = magics.state.settings
    assert resolve(parsed, settings) == resolve(filled.options(), settings)
    assert prepare(cell, parsed, magics.state).body == filled.prepare().body


@pytest.mark.parametrize(
    ("setting", "value", "field", "expected"),
    [
        ("stream", False, {"stream": True}, "--stream"),  # the form overrides a setting: said on the line
        ("stream", True, {"stream": False}, "--no-stream"),
        ("format", "text", {"format": "markdown"}, "-f markdown"),
        ("instructions", "Use SI units.", {"instructions": ""}, "-i ''"),
        ("temperature", 0.5, {"temperature": 1.5}, "-t 1.5"),
    ],
)
def test_copy_as_cell_says_where_the_form_differs_from_a_setting(
    magics: Any, setting: str, value: Any, field: dict[str, Any], expected: str
) -> None:
    setattr(magics, setting, value)
    f = form(prompt="Hi", model="gpt-4.1", **field)
    line = f.cell_text().split("\n")[0]
    assert line == f"%%haoee -m gpt-4.1 {expected}"
    assert resolve(parse(magics, line), magics) == resolve(f.options(), magics)


def test_a_form_at_the_settings_copies_as_a_bare_cell(magics: Any) -> None:
    magics.format, magics.stream = "html", False
    assert form(prompt="Hi", model="gpt-4.1").cell_text() == "%%haoee -m gpt-4.1\nHi"


def test_the_filled_form_sends_every_field(ip: InteractiveShell, magics: Any, offline_server: Any, filled: Any) -> None:
    loop = asyncio.new_event_loop()
    try:
        filled.stream.value = True  # the demo streams the schema's JSON; every other field as filled

        async def click() -> Any:
            filled.run_button.click()
            assert filled.task is not None, filled.error_line.value
            return await filled.task

        call = loop.run_until_complete(asyncio.wait_for(click(), 30))
        loop.run_until_complete(magics.state.aclose())
    finally:
        loop.close()
    assert call.status in ("completed", "incomplete"), filled.error_line.value
    [body] = [r["body"] for r in offline_server.requests if r["method"] == "POST"]
    assert body["model"] == "gpt-5.2" and body["instructions"] == "Don't guess; cite entropy."
    assert (body["temperature"], body["top_p"], body["max_output_tokens"]) == (0.7, 0.25, 200)
    assert body["reasoning"] == {"effort": "low", "summary": "auto"}
    assert body["tools"] == [{"type": "web_search"}] and body["stream"] is True
    assert body["text"]["format"]["name"] == "Book"
    [message] = body["input"]
    assert [part["type"] for part in message["content"]] == ["input_text"] + ["input_image"] * 3
    assert magics.state.session.chats["lesson"].turns == 1  # the chat the magic's --chat continues


# --- messages from the table's conversions ------------------------------------------------


BAD = {"number": "lots", "count": "0", "choice": "bogus", "name": "1st"}


@pytest.mark.parametrize("option", [o for o in OPTIONS if o.kind in BAD], ids=lambda o: o.name)
def test_a_bad_value_is_one_sentence_in_the_magic_and_the_form(
    ip: InteractiveShell, offline_server: Any, option: Any
) -> None:
    value = BAD[option.kind]
    with pytest.raises(Exception) as expected:
        option.convert(value)
    with capture_output(), pytest.raises(UsageError) as info:
        ip.run_cell_magic("haoee", f"{option.flag} {value}", "Hello")
    assert str(expected.value) in str(info.value) and "\n" not in str(info.value)
    if option.widget in ("text", "combobox", "textarea"):
        f = form(prompt="Hello")
        getattr(f, option.name).value = value
        f.run_button.click()
        shown = html.unescape(re.sub(r"<[^>]+>", "", f.error_line.value))
        with pytest.raises(Exception) as labelled:
            option.convert(value, option.label)
        assert f"{labelled.value}; fix it and press Run again." in shown
    assert offline_server.requests == []


# --- the README reference -----------------------------------------------------------------------


def test_reference_markdown_has_a_row_per_option() -> None:
    table = reference_markdown()
    rows = table.splitlines()[2:]
    assert len(rows) == len(OPTIONS)
    for option, row in zip(OPTIONS, rows):
        assert row.startswith("| `" + "/".join(option.flags))
        assert option.help.replace("|", "\\|") in row
        if option.trait:
            assert f"`%config Haoee.{option.trait}`" in row
        if option.widget:
            assert f"| {option.label} |" in row
