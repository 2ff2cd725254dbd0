"""`POST /v1/images/generations` and `/v1/images/edits` of the offline server over real HTTP.

Every image is checked as a PNG a decoder accepts: signature, chunk CRCs, IHDR size, and an
IDAT that zlib inflates to exactly the rows the header promises. Shapes follow the recordings
in fixtures/media-api (03 and 04: answers with usage; 05: an edit).
"""

from __future__ import annotations

import base64
import json
import struct
import zlib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from haoee_jupyter.offline import OfflineServer

AUTH = {"Authorization": "Bearer offline-test"}
HTTP = httpx.Client(timeout=10)


@pytest.fixture(scope="module", autouse=True)
def _close_http_client() -> Any:
    yield
    HTTP.close()


def recorded(name: str) -> Any:
    for folder in (Path(__file__).parent / "fixtures", Path(__file__).parents[2] / "shared" / "fixtures"):
        path = folder / "media-api" / name
        if path.exists():
            return json.loads(path.read_text())
    raise FileNotFoundError(f"media-api/{name}: not in tests/fixtures nor ../shared/fixtures")


def decode_png(data: bytes) -> tuple[int, int, int]:
    """(width, height, colour type) of a valid 8-bit PNG; fails on anything a decoder would refuse."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    position, chunks = 8, []
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind, body = data[position + 4 : position + 8], data[position + 8 : position + 8 + length]
        (crc,) = struct.unpack(">I", data[position + 8 + length : position + 12 + length])
        assert crc == zlib.crc32(kind + body) & 0xFFFFFFFF, kind
        chunks.append((kind, body))
        position += 12 + length
    assert [kind for kind, _ in chunks][0] == b"IHDR" and chunks[-1] == (b"IEND", b"")
    width, height, depth, colour, _c, _f, _i = struct.unpack(">IIBBBBB", chunks[0][1])
    assert depth == 8 and colour in (2, 6)
    raw = zlib.decompress(b"".join(body for kind, body in chunks if kind == b"IDAT"))
    row = 1 + width * (3 if colour == 2 else 4)
    assert len(raw) == height * row and all(raw[y * row] == 0 for y in range(height))
    return width, height, colour


def generate(server: OfflineServer, body: dict[str, Any], headers: dict[str, str] | None = AUTH) -> httpx.Response:
    return HTTP.post(f"{server.url}/images/generations", json=body, headers=headers or {})


def edit(server: OfflineServer, fields: dict[str, Any], files: list[tuple[str, Any]]) -> httpx.Response:
    return HTTP.post(f"{server.url}/images/edits", data=fields, files=files, headers=AUTH)


def b64_images(answer: dict[str, Any]) -> list[bytes]:
    return [base64.b64decode(item["b64_json"]) for item in answer["data"]]


def sse_events(text: str) -> list[dict[str, Any]]:
    events = []
    for frame in text.split("\n\n")[:-1]:
        event_line, data_line = frame.split("\n")
        event = json.loads(data_line.removeprefix("data: "))
        assert event_line == f"event: {event['type']}"
        events.append(event)
    return events


def stream(server: OfflineServer, path: str, **kwargs: Any) -> tuple[httpx.Response, str]:
    with HTTP.stream("POST", f"{server.url}/images/{path}", headers=AUTH, **kwargs) as reply:
        return reply, reply.read().decode()


# -- generations ---------------------------------------------------------------------------


def test_generation_is_a_valid_png_of_the_size_asked(offline_server: OfflineServer) -> None:
    fixture = recorded("04-haoee-gpt-image-2-url-usage.json")
    reply = generate(offline_server, {"model": "gpt-image-1", "prompt": "A lighthouse at dawn", "size": "1536x1024"})
    assert reply.status_code == 200
    answer = reply.json()
    assert list(answer) == list(fixture)
    assert list(answer["usage"]) == list(fixture["usage"])
    assert set(answer["usage"]["input_tokens_details"]) == {"image_tokens", "text_tokens"}
    assert answer["size"] == "1536x1024" and answer["output_format"] == "png" and answer["background"] == "opaque"
    [image] = b64_images(answer)
    assert decode_png(image) == (1536, 1024, 2)
    assert answer["data"][0]["revised_prompt"].endswith("A lighthouse at dawn")
    usage = answer["usage"]
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"] and usage["output_tokens"] > 0


def test_images_are_deterministic_and_differ_by_prompt_and_index(offline_server: OfflineServer) -> None:
    body = {"prompt": "A red fox", "size": "256x256", "n": 3}
    first, again = (b64_images(generate(offline_server, body).json()) for _ in range(2))
    assert first == again and len(set(first)) == 3
    other = b64_images(generate(offline_server, {**body, "prompt": "A blue whale"}).json())
    assert not set(other) & set(first)
    usage = generate(offline_server, body).json()["usage"]
    single = generate(offline_server, {**body, "n": 1}).json()["usage"]
    assert usage["output_tokens"] == 3 * single["output_tokens"] and usage["input_tokens"] == single["input_tokens"]


def test_defaults_and_output_format(offline_server: OfflineServer) -> None:
    answer = generate(offline_server, {"prompt": "x", "output_format": "jpeg", "quality": "high"}).json()
    assert answer["size"] == "1024x1024" and answer["quality"] == "high"
    # The standard library writes PNG only; the answer says so instead of mislabelling the bytes.
    assert answer["output_format"] == "png" and decode_png(b64_images(answer)[0])[:2] == (1024, 1024)
    transparent = generate(offline_server, {"prompt": "x", "size": "64x64", "background": "transparent"}).json()
    assert transparent["background"] == "transparent" and decode_png(b64_images(transparent)[0])[2] == 6


def test_url_answers_download_from_the_same_server_without_a_key(offline_server: OfflineServer) -> None:
    answer = generate(offline_server, {"prompt": "A tram", "size": "128x96", "response_format": "url"}).json()
    url = answer["data"][0]["url"]
    assert urlsplit(url).netloc == urlsplit(offline_server.url).netloc
    download = HTTP.get(url)
    assert download.status_code == 200 and download.headers["content-type"] == "image/png"
    assert decode_png(download.content)[:2] == (128, 96)
    b64 = generate(offline_server, {"prompt": "A tram", "size": "128x96"}).json()
    assert b64_images(b64)[0] == download.content
    assert HTTP.get(url.replace("img_offline_", "img_offline_0")).status_code == 404


def test_model_families_answer_in_their_own_form(offline_server: OfflineServer) -> None:
    haoee = generate(offline_server, {"model": "gpt-image-2", "prompt": "x", "size": "64x64"}).json()["data"][0]
    assert haoee["b64_json"] is None and haoee["url"].startswith(offline_server.url)
    banana = generate(offline_server, {"model": "nano-banana-2", "prompt": "x", "size": "64x64"}).json()["data"][0]
    assert banana["url"].startswith("data:image/png;base64,")
    assert decode_png(base64.b64decode(banana["url"].split(",", 1)[1]))[:2] == (64, 64)
    forced = generate(
        offline_server, {"model": "gpt-image-2", "prompt": "x", "size": "64x64", "response_format": "b64_json"}
    )
    assert "b64_json" in forced.json()["data"][0] and "url" not in forced.json()["data"][0]


@pytest.mark.parametrize(
    ("change", "param"),
    [
        ({"prompt": None}, "prompt"),
        ({"size": "5000x5000"}, "size"),
        ({"size": "big"}, "size"),
        ({"n": 11}, "n"),
        ({"n": "two"}, "n"),
        ({"quality": "ultra"}, "quality"),
        ({"output_format": "gif"}, "output_format"),
        ({"response_format": "bytes"}, "response_format"),
        ({"partial_images": 4}, "partial_images"),
        ({"background": "plaid"}, "background"),
    ],
)
def test_invalid_generations(offline_server: OfflineServer, change: dict[str, Any], param: str) -> None:
    body = {key: value for key, value in {"prompt": "x", **change}.items() if value is not None}
    reply = generate(offline_server, body)
    assert reply.status_code == 400
    error = reply.json()["error"]
    assert error["param"] == param and set(error) == {"message", "type", "param", "code"}


def test_generation_needs_a_key(offline_server: OfflineServer) -> None:
    assert generate(offline_server, {"prompt": "x"}, headers=None).status_code == 401


def test_streamed_generation_sends_partials_then_completed_per_image(offline_server: OfflineServer) -> None:
    body = {"prompt": "A kite", "size": "96x64", "n": 2, "partial_images": 2}
    reply, text = stream(offline_server, "generations", json={**body, "stream": True})
    assert reply.headers["content-type"] == "text/event-stream; charset=utf-8"
    events = sse_events(text)
    kinds = [(e["type"].split(".")[1], e.get("partial_image_index")) for e in events]
    assert kinds == [("partial_image", 0), ("partial_image", 1), ("completed", None)] * 2
    assert all(e["type"].startswith("image_generation.") and e["size"] == "96x64" for e in events)
    for event in events:
        assert decode_png(base64.b64decode(event["b64_json"]))[:2] == (96, 64)
        assert {"background", "created_at", "output_format", "quality"} <= set(event)
    plain = generate(offline_server, body).json()
    completed = [e for e in events if e["type"] == "image_generation.completed"]
    assert [base64.b64decode(e["b64_json"]) for e in completed] == b64_images(plain)
    assert sum(e["usage"]["total_tokens"] for e in completed) == plain["usage"]["total_tokens"]
    partials = [base64.b64decode(e["b64_json"]) for e in events[:2]]
    assert len({*partials, b64_images(plain)[0]}) == 3  # each partial shows more of the picture


# -- edits ---------------------------------------------------------------------------------


def png_of(server: OfflineServer, prompt: str, size: str = "80x48") -> bytes:
    return b64_images(generate(server, {"prompt": prompt, "size": size}).json())[0]


def test_edit_parses_multipart_and_depends_on_the_input_images(offline_server: OfflineServer) -> None:
    fixture = recorded("05-vercel-openai-images-edit-b64.json")
    cat, dog = png_of(offline_server, "cat"), png_of(offline_server, "dog")
    fields = {"prompt": "Make it snow", "model": "gpt-image-1"}
    files = [("image[]", ("cat.png", cat, "image/png")), ("image[]", ("dog.png", dog, "image/png"))]
    reply = edit(offline_server, fields, files)
    assert reply.status_code == 200, reply.text
    answer = reply.json()
    assert set(fixture) <= set(answer)
    [image] = b64_images(answer)
    assert decode_png(image)[:2] == (80, 48)  # size auto: that of the first input image
    assert answer["usage"]["input_tokens_details"]["image_tokens"] == 2 * 85
    logged = offline_server.requests[-1]["body"]
    assert logged["prompt"] == "Make it snow"
    assert [part["filename"] for part in logged["image[]"]] == ["cat.png", "dog.png"]
    assert logged["image[]"][0]["bytes"] == len(cat)
    same = b64_images(edit(offline_server, fields, files).json())
    swapped = b64_images(edit(offline_server, fields, files[::-1]).json())
    single = b64_images(edit(offline_server, fields, [("image", ("cat.png", cat, "image/png"))]).json())
    assert same == [image] and swapped != [image] and single != [image]


def test_edit_with_a_mask_size_and_stream(offline_server: OfflineServer) -> None:
    cat = png_of(offline_server, "cat")
    fields = {"prompt": "Add a hat", "size": "64x64", "n": "2", "stream": "true", "partial_images": "1"}
    files = [("image", ("cat.png", cat, "image/png")), ("mask", ("mask.png", png_of(offline_server, "m"), "image/png"))]
    _reply, text = stream(offline_server, "edits", data=fields, files=files)
    events = sse_events(text)
    assert [e["type"] for e in events] == ["image_edit.partial_image", "image_edit.completed"] * 2
    assert all(decode_png(base64.b64decode(e["b64_json"]))[:2] == (64, 64) for e in events)


def test_edit_refuses_what_is_not_an_image(offline_server: OfflineServer) -> None:
    text_file = [("image", ("notes.png", b"just some text", "image/png"))]
    refused = edit(offline_server, {"prompt": "x"}, text_file)
    assert refused.status_code == 400
    assert refused.json()["error"]["param"] == "image" and "unsupported mimetype" in refused.json()["error"]["message"]
    cat = png_of(offline_server, "cat")
    bad_mask = [("image", ("cat.png", cat, "image/png")), ("mask", ("m.jpg", b"\xff\xd8\xff\xe0", "image/jpeg"))]
    assert edit(offline_server, {"prompt": "x"}, bad_mask).json()["error"]["param"] == "mask"
    missing = edit(offline_server, {"prompt": "x"}, [("other", ("a.txt", b"a", "text/plain"))])
    assert missing.status_code == 400 and missing.json()["error"]["param"] == "image"
    no_prompt = edit(offline_server, {}, [("image", ("cat.png", cat, "image/png"))])
    assert no_prompt.json()["error"]["param"] == "prompt"


def test_multipart_parser_keeps_binary_bytes_exactly(offline_server: OfflineServer) -> None:
    cat = png_of(offline_server, "cat")
    tricky = cat + b"\r\n--not-the-boundary\r\n\r\n\n\r"  # line ends and dashes inside the file
    body = b"".join(
        [
            b"--XyZ\r\n",
            b'Content-Disposition: form-data; name="prompt"\r\n\r\n',
            "Snow ❄ on the roof".encode(),
            b"\r\n--XyZ\r\n",
            b'Content-Disposition: form-data; name="image"; filename="cat.png"\r\n',
            b"Content-Type: image/png\r\n\r\n",
            tricky,
            b"\r\n--XyZ--\r\n",
        ]
    )
    headers = {**AUTH, "Content-Type": "multipart/form-data; boundary=XyZ"}
    reply = HTTP.post(f"{offline_server.url}/images/edits", content=body, headers=headers)
    assert reply.status_code == 200, reply.text
    logged = offline_server.requests[-1]["body"]
    assert logged["prompt"] == "Snow ❄ on the roof" and logged["image"][0]["bytes"] == len(tricky)
    broken = HTTP.post(
        f"{offline_server.url}/images/edits", content=body[:-12], headers=headers
    )  # closing boundary cut off
    assert broken.status_code == 400 and broken.json()["error"]["code"] == "invalid_multipart"
    no_boundary = HTTP.post(
        f"{offline_server.url}/images/edits", content=body, headers={**AUTH, "Content-Type": "multipart/form-data"}
    )
    assert no_boundary.status_code == 400 and "boundary" in no_boundary.json()["error"]["message"]


# -- faults --------------------------------------------------------------------------------


def test_faults(offline_server: OfflineServer) -> None:
    refused = generate(offline_server, {"model": "fault-failed", "prompt": "x"})
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "moderation_blocked"
    assert generate(offline_server, {"model": "fault-429", "prompt": "x"}).status_code == 429
    offline_server.inject("503")
    assert generate(offline_server, {"prompt": "x"}).status_code == 503
    _reply, text = stream(
        offline_server, "generations", json={"model": "fault-error-event", "prompt": "x", "stream": True}
    )
    *_partials, error = sse_events(text)
    assert error["type"] == "error" and error["error"]["code"] == "server_error"
    with pytest.raises(httpx.RemoteProtocolError):
        generate(offline_server, {"model": "fault-truncated", "prompt": "x", "size": "64x64"})
    cat = png_of(offline_server, "cat")
    assert (
        edit(
            offline_server, {"prompt": "x", "model": "fault-404"}, [("image", ("c.png", cat, "image/png"))]
        ).status_code
        == 404
    )


def test_a_fault_model_wins_over_a_bad_body(offline_server: OfflineServer) -> None:
    assert generate(offline_server, {"model": "fault-429", "prompt": "x", "size": "huge"}).status_code == 429
    offline_server.inject("failed")
    assert generate(offline_server, {"n": "lots"}).json()["error"]["code"] == "moderation_blocked"
