"""The client against the real recorded payloads, served by a real loopback HTTP server.

Every fixture in tests/fixtures/responses-api/ is read through the public Client (and
AsyncClient for a subset), streamed and not. Streams are re-framed in every way the wire facts
say occurs in the wild. Expected values are computed here from the fixture itself (the final
response object in its terminal event), never copied from the client's output.
"""

from __future__ import annotations

import asyncio
import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import haoee_jupyter
from haoee_jupyter import (
    APIConnectionError,
    AsyncClient,
    AuthenticationError,
    BadRequestError,
    Client,
    HaoeeError,
    NotFoundError,
    ProtocolError,
    Response,
    ResponseFailedError,
    ServerError,
)

FIXTURES = Path(__file__).parent / "fixtures" / "responses-api"
KEY = "sk-test-fixtures-0123456789abcdef"
SSE = "text/event-stream; charset=utf-8"

pytestmark = pytest.mark.skipif(not FIXTURES.is_dir(), reason=f"fixtures not found at {FIXTURES}")


@pytest.fixture(autouse=True)
def _isolated_settings(monkeypatch):
    for name in ("HAOEE_API_KEY", "HAOEE_BASE_URL", "HAOEE_MODEL"):
        monkeypatch.delenv(name, raising=False)


# --- reading the fixtures, independently of the client ----------------------------------


@dataclass
class Frame:
    event: str | None
    data: str  # one JSON document or "[DONE]"
    comments: tuple[str, ...] = ()


def fixture_path(prefix: str) -> Path:
    (path,) = FIXTURES.glob(f"{prefix}-*")
    return path


def load_frames(prefix: str) -> list[Frame]:
    """The frames of a recorded stream (.sse), or of the data-only .jsonl (framed as OpenAI does)."""
    path = fixture_path(prefix)
    text = path.read_text("utf-8")
    if path.suffix == ".jsonl":
        return [Frame(json.loads(line)["type"], line) for line in text.splitlines() if line.strip()]
    frames = []
    for block in text.split("\n\n"):
        event, data, comments = None, [], []
        for line in block.split("\n"):
            if line.startswith(":"):
                comments.append(line)
            elif line.startswith("event: "):
                event = line[len("event: ") :]
            elif line.startswith("data: "):
                data.append(line[len("data: ") :])
        if data:
            frames.append(Frame(event, "\n".join(data), tuple(comments)))
    return frames


def payloads(prefix: str) -> list[dict[str, Any]]:
    return [json.loads(f.data) for f in load_frames(prefix) if f.data != "[DONE]"]


def final_response(prefix: str) -> dict[str, Any]:
    """The response object of the stream's terminal event (or the .json body itself)."""
    path = fixture_path(prefix)
    if path.suffix == ".json":
        return json.loads(path.read_text("utf-8"))
    (terminal,) = [
        e for e in payloads(prefix) if e["type"] in ("response.completed", "response.incomplete", "response.failed")
    ]
    return terminal["response"]


@dataclass
class Expected:
    id: str
    model: str
    status: str
    text: str
    usage: tuple[int, int, int, int, int]
    incomplete_reason: str | None
    citations: list[tuple[str, str]]
    reasoning: list[str]
    refusal: str | None
    function_calls: list[tuple[str, str, str]]
    web_searches: list[str]


def expected(resp: dict[str, Any]) -> Expected:
    messages = [item for item in resp["output"] if item["type"] == "message"]
    parts = [part for item in messages for part in item["content"]]
    text = "".join(p["text"] for p in parts if p["type"] == "output_text")
    refusal = "".join(p["refusal"] for p in parts if p["type"] == "refusal") or None
    citations: list[tuple[str, str]] = []
    for part in parts:
        for note in part.get("annotations") or []:
            if note["type"] == "url_citation" and note["url"] not in [url for url, _ in citations]:
                citations.append((note["url"], note["title"]))
    reasoning = [
        part["text"]
        for item in resp["output"]
        if item["type"] == "reasoning"
        for part in (item.get("summary") or []) + (item.get("content") or [])
        if part.get("text")
    ]
    searches: list[str] = []
    for item in resp["output"]:
        if item["type"] == "web_search_call":
            action = item.get("action") or {}
            for query in action.get("queries") or [action.get("query")]:
                if query and query not in searches:
                    searches.append(query)
    usage = resp.get("usage") or {}
    return Expected(
        id=resp["id"],
        model=resp["model"],
        status=resp["status"],
        text=text,
        usage=(
            usage.get("input_tokens", 0),
            usage.get("output_tokens", 0),
            usage.get("total_tokens", 0),
            (usage.get("input_tokens_details") or {}).get("cached_tokens", 0),
            (usage.get("output_tokens_details") or {}).get("reasoning_tokens", 0),
        ),
        incomplete_reason=(resp.get("incomplete_details") or {}).get("reason"),
        citations=citations,
        reasoning=reasoning,
        refusal=refusal,
        function_calls=[
            (item["name"], item["arguments"], item["call_id"])
            for item in resp["output"]
            if item["type"] == "function_call"
        ],
        web_searches=searches,
    )


def check(response: Response, exp: Expected) -> None:
    assert isinstance(response, Response)
    assert response.id == exp.id
    assert response.model == exp.model
    assert response.status == exp.status
    assert response.text == exp.text
    usage = response.usage
    assert (
        usage.input_tokens,
        usage.output_tokens,
        usage.total_tokens,
        usage.cached_tokens,
        usage.reasoning_tokens,
    ) == exp.usage
    if exp.status == "incomplete":
        assert response.incomplete_reason == exp.incomplete_reason
    else:
        assert response.incomplete_reason is None
    assert [(c.url, c.title) for c in response.citations] == exp.citations
    assert response.reasoning == exp.reasoning
    assert response.refusal == exp.refusal
    assert [(f["name"], f["arguments"], f["call_id"]) for f in response.function_calls] == exp.function_calls
    assert response.web_searches == exp.web_searches
    assert response.error is None
    assert isinstance(response.raw, dict)


# Sanity of the expectations themselves: what the fixtures are documented to contain.
def test_expectations_match_the_documented_fixture_contents():
    assert expected(final_response("02")).text == "4200 + 42 equals 4242."
    assert expected(final_response("03")).incomplete_reason == "max_output_tokens"
    assert expected(final_response("04")).incomplete_reason == "max_output_tokens"
    assert len(expected(final_response("05")).citations) == 3  # six annotations, three distinct urls
    assert len(expected(final_response("06")).citations) == 3
    assert len(expected(final_response("08")).reasoning) == 3
    assert expected(final_response("09")).reasoning
    assert expected(final_response("11")).refusal
    assert expected(final_response("16")).reasoning and expected(final_response("17")).reasoning
    assert expected(final_response("18")).function_calls[0][0] == "get_capital"
    assert final_response("15")["error"]["code"] == "insufficient_quota"


# --- re-framing a stream ------------------------------------------------------------------

STREAMS = ["02", "04", "06", "08", "11", "15", "16", "17", "18"]
JSON_BODIES = ["01", "03", "05", "07", "09", "10"]

KEEPALIVE = json.dumps({"type": "keepalive", "sequence_number": 9999})
UNKNOWN = json.dumps(
    {
        "type": "response.future_feature.delta",
        "item_id": "x",
        "output_index": 0,
        "content_index": 0,
        "delta": "NOT PART OF THE ANSWER",
    }
)


def render(
    frames: list[Frame],
    *,
    eol: str = "\n",
    event_lines: bool = True,
    pings: bool = False,
    done: bool = False,
    multiline: bool = False,
    extras: bool = False,
    last: str = "\n\n",
) -> list[bytes]:
    """Frames as SSE bytes, one element per frame (each element becomes one HTTP chunk)."""
    frames = list(frames)
    if done and frames[-1].data != "[DONE]":
        frames.append(Frame(None, "[DONE]"))
    if extras:
        unknown = Frame(None, UNKNOWN)  # an unknown type, with no event: line either
        keepalive = Frame("keepalive", KEEPALIVE)
        middle = len(frames) // 2
        frames = [keepalive, *frames[:middle], keepalive, unknown, *frames[middle:-1], keepalive, unknown, frames[-1]]
    out = []
    for i, frame in enumerate(frames):
        lines = list(frame.comments)
        if pings and i:
            lines.insert(0, ": PING")
        if event_lines and frame.data != "[DONE]":
            lines.append(f"event: {frame.event or json.loads(frame.data)['type']}")
        if multiline and frame.data != "[DONE]":
            pretty = json.dumps(json.loads(frame.data), indent=2, ensure_ascii=False)
            lines.extend(f"data: {line}" for line in pretty.split("\n"))
        else:
            lines.append(f"data: {frame.data}")
        tail = last if i == len(frames) - 1 else "\n\n"
        out.append(("\n".join(lines) + tail).replace("\n", eol).encode("utf-8"))
    if pings:
        out.append(f": PING{eol}{eol}".encode())  # a ping after the last frame, too
    return out


def recorded(prefix: str) -> list[bytes]:
    """The fixture's bytes exactly as recorded, cut after each frame."""
    path = fixture_path(prefix)
    if path.suffix == ".jsonl":
        return render(load_frames(prefix))
    raw = path.read_bytes()
    pieces = raw.split(b"\n\n")
    chunks = [piece + b"\n\n" for piece in pieces[:-1]]
    if pieces[-1]:
        chunks.append(pieces[-1])
    assert b"".join(chunks) == raw
    return chunks


FRAMINGS = {
    "recorded": lambda p: recorded(p),
    "crlf": lambda p: render(load_frames(p), eol="\r\n"),
    "cr": lambda p: render(load_frames(p), eol="\r"),
    "one_chunk": lambda p: [b"".join(recorded(p))],
    "pings": lambda p: render(load_frames(p), pings=True),
    "done": lambda p: render(load_frames(p), done=True),
    "no_event_lines": lambda p: render(load_frames(p), event_lines=False),
    "multiline_data": lambda p: render(load_frames(p), multiline=True),
    "keepalive_unknown": lambda p: render(load_frames(p), extras=True),
    "last_frame_no_blank_line": lambda p: render(load_frames(p), last="\n"),
    "last_frame_no_newline": lambda p: render(load_frames(p), last=""),
    "crlf_last_no_blank_line": lambda p: render(load_frames(p), eol="\r\n", last="\n"),
    "cr_last_no_newline": lambda p: render(load_frames(p), eol="\r", last=""),
    "everything": lambda p: render(
        load_frames(p), eol="\r\n", event_lines=False, pings=True, done=True, multiline=True, extras=True
    ),
}


def stream_reply(server, chunks: list[bytes], **options: Any):
    return server.Reply(200, chunks, content_type=SSE, **options)


def client_for(server, **options: Any) -> Client:
    return Client(api_key=KEY, base_url=server.url, **options)


def collect_stream(
    server, chunks: list[bytes], *, cut_after: str | None = None, **options: Any
) -> tuple[Response | HaoeeError, list[str]]:
    """Serve chunks as a stream and read it; returns the Response (or the error) and the deltas.

    With ``cut_after``, the server holds the connection until the client has received exactly
    that text (so a TCP reset cannot discard data the client has not read yet).
    """
    deltas: list[str] = []
    received = threading.Event()

    def on_text(delta: str) -> None:
        deltas.append(delta)
        if cut_after is not None and "".join(deltas) == cut_after:
            received.set()

    server.add(stream_reply(server, [*chunks, received] if cut_after is not None else chunks, **options))
    with client_for(server) as client:
        try:
            result: Response | HaoeeError = client.respond("hi", stream=True, on_text=on_text)
        except HaoeeError as e:
            result = e
    return result, deltas


def assert_stream_result(prefix: str, result: Response | HaoeeError, deltas: list[str]) -> None:
    resp = final_response(prefix)
    if resp["status"] == "failed":  # fixture 15: an error event, then response.failed
        assert isinstance(result, ResponseFailedError), result
        assert result.code == "insufficient_quota"
        assert resp["error"]["message"] in str(result)
        assert "\n" not in str(result)
        assert result.partial is not None and result.partial.status == "failed"
        assert result.partial.text == ""
        assert deltas == []
        return
    exp = expected(resp)
    assert not isinstance(result, HaoeeError), f"{type(result).__name__}: {result}"
    check(result, exp)
    assert "".join(deltas) == exp.text
    assert "NOT PART OF THE ANSWER" not in result.text


# --- streams -------------------------------------------------------------------------------


@pytest.mark.parametrize("framing", list(FRAMINGS))
@pytest.mark.parametrize("prefix", STREAMS)
def test_stream_fixture(http_server, prefix, framing):
    result, deltas = collect_stream(http_server, FRAMINGS[framing](prefix))
    assert_stream_result(prefix, result, deltas)
    (request,) = http_server.requests
    assert request.json["stream"] is True
    assert request.headers["accept"] == "text/event-stream"


@pytest.mark.parametrize("mode", ["length", "close"])
@pytest.mark.parametrize("prefix", STREAMS)
def test_stream_fixture_without_chunked_encoding(http_server, prefix, mode):
    result, deltas = collect_stream(http_server, recorded(prefix), mode=mode)
    assert_stream_result(prefix, result, deltas)


@pytest.mark.parametrize("prefix", STREAMS)
def test_stream_fixture_with_pauses_between_frames(http_server, prefix):
    chunks: list[bytes | float] = []
    for i, chunk in enumerate(recorded(prefix)):
        chunks.append(chunk)
        if i % 25 == 3:
            chunks.append(0.01)
    result, deltas = collect_stream(http_server, chunks)  # type: ignore[arg-type]
    assert_stream_result(prefix, result, deltas)


def cut(data: bytes, points: list[int]) -> list[bytes]:
    points = sorted({p for p in points if 0 < p < len(data)})
    return [data[a:b] for a, b in zip([0, *points], [*points, len(data)])]


@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,  # the same examples every run
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_stream_random_chunk_boundaries(http_server, data):
    http_server.reset()
    prefix = data.draw(st.sampled_from(STREAMS), label="fixture")
    framing = data.draw(st.sampled_from(["recorded", "crlf", "cr", "everything"]), label="framing")
    body = b"".join(FRAMINGS[framing](prefix))
    # Bias the cuts towards the interesting places: inside multi-byte characters, between \r and \n.
    special = [i for i in range(1, len(body)) if (body[i] & 0xC0) == 0x80 or body[i - 1 : i + 1] == b"\r\n"]
    points = data.draw(
        st.lists(st.integers(1, len(body) - 1) | st.sampled_from(special or [1]), max_size=60), label="cuts"
    )
    result, deltas = collect_stream(http_server, cut(body, points))
    assert_stream_result(prefix, result, deltas)


@pytest.mark.parametrize("prefix", ["06", "08"])
def test_stream_split_inside_every_multibyte_character(http_server, prefix):
    body = b"".join(recorded(prefix))
    inside = [i for i in range(1, len(body)) if (body[i] & 0xC0) == 0x80]  # continuation bytes
    assert inside, "this fixture is chosen because it has non-ASCII text"
    result, deltas = collect_stream(http_server, cut(body, inside))
    assert_stream_result(prefix, result, deltas)


@pytest.mark.parametrize("prefix", ["02", "06", "16"])
def test_stream_split_between_every_cr_and_lf(http_server, prefix):
    body = b"".join(FRAMINGS["crlf"](prefix))
    between = [i + 1 for i in range(len(body) - 1) if body[i : i + 2] == b"\r\n"]
    result, deltas = collect_stream(http_server, cut(body, between))
    assert_stream_result(prefix, result, deltas)


@pytest.mark.parametrize("prefix", ["02", "11"])
def test_stream_cr_only_split_after_every_cr(http_server, prefix):
    body = b"".join(FRAMINGS["cr"](prefix))
    after = [i + 1 for i in range(len(body)) if body[i : i + 1] == b"\r"]
    result, deltas = collect_stream(http_server, cut(body, after))
    assert_stream_result(prefix, result, deltas)


def test_stream_one_byte_per_chunk(http_server):
    body = b"".join(FRAMINGS["crlf"]("02"))
    result, deltas = collect_stream(http_server, cut(body, list(range(len(body)))))
    assert_stream_result("02", result, deltas)


# --- the terminal states, spelled out -------------------------------------------------------


def test_stream_04_incomplete_is_not_an_error(http_server):
    result, deltas = collect_stream(http_server, recorded("04"))
    assert isinstance(result, Response)
    assert result.status == "incomplete"
    assert result.incomplete_reason == "max_output_tokens"
    delta_text = "".join(e["delta"] for e in payloads("04") if e["type"] == "response.output_text.delta")
    assert result.text == delta_text == "".join(deltas)
    assert result.usage.output_tokens == final_response("04")["usage"]["output_tokens"] == 50


def test_stream_15_error_event_then_failed(http_server):
    result, _ = collect_stream(http_server, recorded("15"))
    assert isinstance(result, ResponseFailedError)
    error_event = next(e for e in payloads("15") if e["type"] == "error")
    assert result.code == error_event["error"]["code"] == "insufficient_quota"
    assert error_event["error"]["message"] in str(result)
    assert result.status_code is None
    assert result.partial is not None
    assert result.partial.id == final_response("15")["id"]


def test_stream_15_without_the_failed_event(http_server):
    """The error event alone, then the connection closes: still the server's error."""
    frames = [f for f in load_frames("15") if json.loads(f.data)["type"] != "response.failed"]
    result, _ = collect_stream(http_server, render(frames))
    assert isinstance(result, ResponseFailedError)
    assert result.code == "insufficient_quota"
    assert "You exceeded your current quota" in str(result)


def test_stream_15_as_bare_json_lines(http_server):
    """The .jsonl as served by a relay that drops the SSE framing altogether."""
    raw = fixture_path("15").read_bytes()
    result, _ = collect_stream(http_server, [raw])
    assert isinstance(result, ResponseFailedError), f"{type(result).__name__}: {result}"
    assert result.code == "insufficient_quota"


def test_stream_bare_json_lines_text(http_server):
    lines = b"".join(f.data.encode() + b"\n" for f in load_frames("02"))
    result, deltas = collect_stream(http_server, [lines])
    assert_stream_result("02", result, deltas)


@pytest.mark.parametrize("follow", ["close", "failed", "done"])
def test_stream_flat_error_event(http_server, follow):
    frames = load_frames("02")[:6]  # created, in_progress, item added, part added, two deltas
    sent = "".join(json.loads(f.data).get("delta", "") for f in frames)
    flat = {
        "type": "error",
        "code": "rate_limit_exceeded",
        "message": "Slow down, please.",
        "param": None,
        "sequence_number": 6,
    }
    frames.append(Frame("error", json.dumps(flat)))
    if follow == "failed":
        failed = dict(
            final_response("02"),
            status="failed",
            error={"code": "rate_limit_exceeded", "message": "Slow down, please."},
            output=[],
            usage=None,
        )
        frames.append(Frame("response.failed", json.dumps({"type": "response.failed", "response": failed})))
    elif follow == "done":
        frames.append(Frame(None, "[DONE]"))
    result, deltas = collect_stream(http_server, render(frames))
    assert isinstance(result, ResponseFailedError), f"{type(result).__name__}: {result}"
    assert result.code == "rate_limit_exceeded"
    assert "Slow down, please." in str(result)
    assert "".join(deltas) == sent
    if follow != "failed":
        assert result.partial is not None and result.partial.text == sent


@pytest.mark.parametrize("end", ["ok", "fin"])
def test_stream_without_terminal_event_is_a_protocol_error(http_server, end):
    frames = [f for f in load_frames("02") if not json.loads(f.data)["type"].endswith((".done", ".completed"))]
    sent = "".join(json.loads(f.data).get("delta", "") for f in frames)
    assert sent
    result, deltas = collect_stream(http_server, render(frames), end=end)
    assert isinstance(result, HaoeeError)
    if end == "ok":
        assert isinstance(result, ProtocolError)
    assert result.partial is not None
    assert result.partial.text == sent == "".join(deltas)
    assert "\n" not in str(result)


def test_stream_cut_midway_carries_the_partial_text(http_server):
    frames = load_frames("04")[:20]  # created, in_progress, item, part, 16 deltas
    sent = "".join(json.loads(f.data).get("delta", "") for f in frames)
    assert len(sent) > 20
    result, deltas = collect_stream(http_server, render(frames), cut_after=sent, end="reset")
    assert isinstance(result, APIConnectionError), f"{type(result).__name__}: {result}"
    assert result.partial is not None
    assert result.partial.text == sent == "".join(deltas)
    assert len(http_server.requests) == 1


@pytest.mark.parametrize("end", ["reset", "fin"])
def test_stream_cut_in_the_middle_of_a_frame(http_server, end):
    body = b"".join(recorded("02"))
    cut_at = body.index(b"response.output_text.done")  # after all deltas, inside a frame
    sent = "".join(e["delta"] for e in payloads("02") if e["type"] == "response.output_text.delta")
    result, deltas = collect_stream(http_server, [body[:cut_at]], cut_after=sent, end=end)
    assert isinstance(result, APIConnectionError)
    assert result.partial is not None and result.partial.text == sent == "".join(deltas)


# --- non-streamed bodies ----------------------------------------------------------------------


@pytest.mark.parametrize("prefix", JSON_BODIES + [p for p in STREAMS if p != "15"])
def test_json_body(http_server, prefix):
    resp = final_response(prefix)
    http_server.add(status=200, body=json.dumps(resp, ensure_ascii=False).encode())
    with client_for(http_server) as client:
        result = client.respond("hi")
    check(result, expected(resp))
    assert result.raw == resp
    (request,) = http_server.requests
    assert "stream" not in request.json


@pytest.mark.parametrize("prefix", JSON_BODIES)
def test_json_fixture_bytes_as_recorded(http_server, prefix):
    raw = fixture_path(prefix).read_bytes()
    http_server.add(status=200, body=raw, mode="length")
    with client_for(http_server) as client:
        result = client.respond("hi")
    check(result, expected(json.loads(raw)))


def test_json_body_03_incomplete(http_server):
    http_server.add(status=200, body=fixture_path("03").read_bytes())
    result = client_for(http_server).respond("List the states", max_output_tokens=50)
    assert result.status == "incomplete" and result.incomplete_reason == "max_output_tokens"
    assert result.text.startswith("Sure! Here is a list of all 50 U.S. states")
    assert http_server.requests[0].json["max_output_tokens"] == 50


def test_json_body_10_is_parseable_json_text(http_server):
    http_server.add(status=200, body=fixture_path("10").read_bytes())
    result = client_for(http_server).respond("hi")
    assert json.loads(result.text)["author"]["last_name"] == "Rothfuss"


def test_json_failed_body_raises(http_server):
    failed = final_response("15")
    http_server.add(status=200, body=json.dumps(failed).encode())
    with pytest.raises(ResponseFailedError) as info:
        client_for(http_server).respond("hi")
    assert info.value.code == "insufficient_quota"
    assert failed["error"]["message"] in str(info.value)


def test_json_answer_to_a_stream_request(http_server):
    """A relay answers a stream request in one piece: a Response, and on_text called once."""
    raw = fixture_path("01").read_bytes()
    http_server.add(status=200, body=raw)
    deltas: list[str] = []
    result = client_for(http_server).respond("hi", stream=True, on_text=deltas.append)
    exp = expected(json.loads(raw))
    check(result, exp)
    assert deltas == [exp.text]


# --- HTTP errors ------------------------------------------------------------------------------

ERRORS = [
    ("12", 400, BadRequestError, "decimal_below_min_value", "temperature"),
    ("13", 401, AuthenticationError, "invalid_api_key", None),
    ("14", 400, NotFoundError, "model_not_found", "model"),
    ("14", 404, NotFoundError, "model_not_found", "model"),
]


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("prefix,status,cls,code,param", ERRORS)
def test_error_fixture(http_server, prefix, status, cls, code, param, stream):
    raw = fixture_path(prefix).read_bytes()
    envelope = json.loads(raw)["error"]
    http_server.add(status=status, body=raw)
    with pytest.raises(HaoeeError) as info:
        client_for(http_server).respond("hi", stream=stream)
    error = info.value
    assert type(error) is cls
    assert error.status_code == status
    assert error.code == code == envelope["code"]
    assert error.param == param == envelope["param"]
    assert error.type == envelope["type"]
    assert envelope["message"] in str(error)
    assert "\n" not in str(error)
    assert error.hint and error.hint in str(error)
    assert error.partial is None
    assert len(http_server.requests) == 1  # not retried


def test_error_12_is_a_bad_request_naming_temperature(http_server):
    http_server.add(status=400, body=fixture_path("12").read_bytes())
    with pytest.raises(BadRequestError) as info:
        client_for(http_server).respond("hi", temperature=-1)
    assert not isinstance(info.value, NotFoundError)
    assert info.value.param == "temperature"
    assert "temperature" in str(info.value)
    assert http_server.requests[0].json["temperature"] == -1


def test_html_502_page_gives_a_short_excerpt(http_server):
    filler = "<p>" + "Cloudflare Ray ID: 8a1b2c3d4e5f. Please try again in a few minutes. " * 200 + "</p>"
    page = (
        "<!DOCTYPE html>\n<html>\n<head><title>502 Bad Gateway</title>\n<style>body{font-family:sans}</style></head>\n"
        f"<body>\n<center><h1>502 Bad Gateway</h1></center>\n{filler}\n<hr><center>nginx/1.25.3</center>\n</body>\n</html>\n"
    )
    http_server.add(status=502, body=page.encode(), content_type="text/html")
    with pytest.raises(ServerError) as info:
        client_for(http_server, max_retries=0).respond("hi")
    message = str(info.value)
    assert info.value.status_code == 502
    assert "502 Bad Gateway" in message
    assert "\n" not in message
    assert "<" not in message and "font-family" not in message
    assert len(message) < 500
    assert message.count("Cloudflare Ray ID") <= 2


@pytest.mark.parametrize("status,cls", [(503, ServerError), (400, BadRequestError)])
def test_plain_text_error_body(http_server, status, cls):
    text = "upstream connect error or disconnect/reset before headers. reset reason: connection failure"
    http_server.add(status=status, body=text.encode(), content_type="text/plain")
    with pytest.raises(cls) as info:
        client_for(http_server, max_retries=0).respond("hi")
    assert text in str(info.value)
    assert info.value.status_code == status


def test_deepseek_style_error_with_octet_stream_content_type(http_server):
    body = {
        "error": {
            "message": "No tool output found for tool call call-a.",
            "type": "invalid_request_error",
            "param": None,
            "code": "invalid_request_error",
        }
    }
    http_server.add(status=400, body=json.dumps(body).encode(), content_type="application/octet-stream")
    with pytest.raises(BadRequestError) as info:
        client_for(http_server).respond("hi", stream=True)
    assert "No tool output found for tool call call-a." in str(info.value)
    assert info.value.code == "invalid_request_error"
    assert info.value.status_code == 400


@pytest.mark.parametrize(
    "body,content_type",
    [
        (b"<html><head><title>Welcome to nginx!</title></head><body>It works</body></html>", "text/html"),
        (b'{"id": "resp_1", "output": [', "application/json"),
        (b"", "application/json"),
        (b"OK", None),
    ],
)
def test_non_json_200_body_is_a_protocol_error(http_server, body, content_type):
    http_server.add(status=200, body=body, content_type=content_type)
    with pytest.raises(ProtocolError) as info:
        client_for(http_server).respond("hi")
    assert "\n" not in str(info.value)


def test_html_200_answer_to_a_stream_request_is_a_protocol_error(http_server):
    http_server.add(status=200, body=b"<html><body>Login required</body></html>", content_type="text/html")
    with pytest.raises(ProtocolError):
        client_for(http_server).respond("hi", stream=True)


# --- AsyncClient, on a subset ---------------------------------------------------------------


@pytest.mark.parametrize("framing", ["recorded", "everything", "cr_last_no_newline"])
@pytest.mark.parametrize("prefix", ["02", "04", "06", "11", "15", "16", "17", "18"])
def test_async_stream_fixture(http_server, prefix, framing):
    http_server.add(stream_reply(http_server, FRAMINGS[framing](prefix)))
    deltas: list[str] = []

    async def main() -> Response | HaoeeError:
        async with AsyncClient(api_key=KEY, base_url=http_server.url) as client:
            try:
                return await client.respond("hi", stream=True, on_text=deltas.append)
            except HaoeeError as e:
                return e

    assert_stream_result(prefix, asyncio.run(main()), deltas)


@pytest.mark.parametrize("prefix", ["01", "05", "09"])
def test_async_json_fixture(http_server, prefix):
    raw = fixture_path(prefix).read_bytes()
    http_server.add(status=200, body=raw)

    async def main() -> Response:
        async with AsyncClient(api_key=KEY, base_url=http_server.url) as client:
            return await client.respond("hi")

    check(asyncio.run(main()), expected(json.loads(raw)))


@pytest.mark.parametrize("prefix,status,cls,code,param", ERRORS)
def test_async_error_fixture(http_server, prefix, status, cls, code, param):
    http_server.add(status=status, body=fixture_path(prefix).read_bytes())

    async def main() -> None:
        async with AsyncClient(api_key=KEY, base_url=http_server.url) as client:
            await client.respond("hi", stream=True)

    with pytest.raises(cls) as info:
        asyncio.run(main())
    assert info.value.code == code and info.value.status_code == status


def test_async_stream_cut_midway(http_server):
    frames = load_frames("04")[:12]
    sent = "".join(json.loads(f.data).get("delta", "") for f in frames)
    received = threading.Event()
    http_server.add(stream_reply(http_server, [*render(frames), received], end="reset"))
    deltas: list[str] = []

    def on_text(delta: str) -> None:
        deltas.append(delta)
        if "".join(deltas) == sent:
            received.set()

    async def main() -> None:
        async with AsyncClient(api_key=KEY, base_url=http_server.url) as client:
            await client.respond("hi", stream=True, on_text=on_text)

    with pytest.raises(APIConnectionError) as info:
        asyncio.run(main())
    assert info.value.partial is not None and info.value.partial.text == sent == "".join(deltas)


def test_public_names_used_here_are_exported():
    for name in ("Client", "AsyncClient", "Response", "ResponseFailedError", "ProtocolError"):
        assert name in haoee_jupyter.__all__
