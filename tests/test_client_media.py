"""Images through the public clients, over real loopback HTTP: the offline server and the recorded fixtures.

The offline server draws the same PNG for the same prompt and inputs whatever the answer shape,
so a link answer (gpt-image-2) must download to the very bytes a base64 answer carries. Recorded
fixtures (tests/fixtures/media-api) are served by the scriptable loopback server, their links
rewritten to a second loopback server: another port is another origin, which must never see the
key. Videos are in test_client_video.py.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import struct
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from PIL import Image as PILImage

from haoee_jupyter import (
    AsyncClient,
    BadRequestError,
    Client,
    ConfigurationError,
    HaoeeError,
    ImageResult,
    NotFoundError,
    RateLimitError,
    ResponseFailedError,
)

KEY = "sk-test-media-0123456789abcdef"
FIXTURES = Path(__file__).parent / "fixtures" / "media-api"


@pytest.fixture(autouse=True)
def _isolated_settings(monkeypatch):
    for name in ("HAOEE_API_KEY", "HAOEE_BASE_URL", "HAOEE_MODEL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def client(offline_server):
    with Client(api_key=KEY, base_url=offline_server.url, max_retries=0) as client:
        yield client


@pytest.fixture
def other_host(http_server):
    """A second loopback server: the same address on another port, so another origin."""
    server = type(http_server)()
    yield server
    server.close()


def load(prefix: str) -> dict[str, Any]:
    (path,) = FIXTURES.glob(f"{prefix}-*")
    return json.loads(path.read_text("utf-8"))


def drawn(fmt: str, size: tuple[int, int] = (40, 30)) -> bytes:
    buffer = io.BytesIO()
    PILImage.new("RGB", size, (20, 120, 200)).save(buffer, fmt)
    return buffer.getvalue()


def png_size(data: bytes) -> tuple[int, int]:
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def posts(server: Any, path: str) -> list[dict[str, Any]]:
    return [r for r in server.requests if r["method"] == "POST" and r["path"] == path]


def key_seen(server: Any) -> bool:
    return any(KEY in value for request in server.requests for value in request.headers.values())


# --- the offline server ---------------------------------------------------------------


def test_generation_answered_in_base64(client, offline_server):
    result = client.generate_image("A red fox in snow", model="gpt-image-1", size="96x64", quality="low")
    (image,) = result
    assert isinstance(result, ImageResult) and result.model == "gpt-image-1" and image.url is None
    assert image.mime_type == "image/png" and image.size == png_size(image.data) == (96, 64)
    usage = result.usage
    assert usage.output_tokens > 0 and usage.total_tokens == usage.input_tokens + usage.output_tokens
    (sent,) = offline_server.requests
    assert sent["path"] == "/v1/images/generations" and sent["authorization_present"]
    assert sent["body"] == {"prompt": "A red fox in snow", "model": "gpt-image-1", "size": "96x64", "quality": "low"}
    assert sent["headers"]["modelname"] == "gpt-image-1" and sent["headers"]["accept"] == "application/json"


def test_a_link_answer_downloads_the_same_image_a_base64_answer_carries(client, offline_server):
    inline = client.generate_image("A lighthouse at dusk", model="gpt-image-1", size="64x48", n=2)
    offline_server.reset()
    linked = client.generate_image("A lighthouse at dusk", model="gpt-image-2", size="64x48", n=2)
    assert [i.data for i in linked] == [i.data for i in inline] and inline[0].data != inline[1].data
    assert linked.pending == [] and all(i.url and "/v1/files/images/" in i.url for i in linked)
    downloads = [r for r in offline_server.requests if r["method"] == "GET"]
    assert [r["path"] for r in downloads] == [i.url.split(":" + str(offline_server.port))[1] for i in linked]
    # The links are on the API's own origin: the key goes there, the model header does not.
    assert all(r["authorization_present"] and "modelname" not in r["headers"] for r in downloads)
    assert linked.usage.total_tokens == inline.usage.total_tokens > 0


def test_an_edit_of_one_image_from_a_file_is_read_by_its_bytes(client, offline_server, tmp_path):
    photo = tmp_path / "photo"  # no extension: the type comes from the bytes
    photo.write_bytes(drawn("PNG"))
    result = client.generate_image("Add a red hat", images=photo, size="64x64")
    (sent,) = posts(offline_server, "/v1/images/edits")
    body = sent["body"]
    assert body["image"] == [{"filename": "photo.png", "content_type": "image/png", "bytes": photo.stat().st_size}]
    assert (body["prompt"], body["model"], body["size"]) == ("Add a red hat", "gpt-image-2", "64x64")
    assert png_size(result[0].data) == (64, 64)
    again = client.generate_image("Add a red hat", images=[drawn("JPEG")], size="64x64")
    assert again[0].data != result[0].data  # drawn from the input image too


def test_an_edit_of_three_images_in_three_forms_with_a_mask(client, offline_server, tmp_path):
    (tmp_path / "a.png").write_bytes(drawn("PNG"))
    mask = drawn("PNG", (64, 64))
    images = [tmp_path / "a.png", drawn("JPEG"), ("hat", drawn("WEBP"))]
    result = client.generate_image("Combine them", model="gpt-image-1", images=images, mask=mask, size="64x64")
    (sent,) = posts(offline_server, "/v1/images/edits")
    files = sent["body"]["image[]"]
    assert [(f["filename"], f["content_type"]) for f in files] == [
        ("a.png", "image/png"),
        ("image-2.jpg", "image/jpeg"),
        ("hat.webp", "image/webp"),
    ]
    assert sent["body"]["mask"] == [{"filename": "mask.png", "content_type": "image/png", "bytes": len(mask)}]
    assert sent["headers"]["content-type"].startswith("multipart/form-data; boundary=")
    assert png_size(result[0].data) == (64, 64) and result.usage.input_tokens > 0


def test_partial_images_stream_in_before_the_final_one(client, offline_server):
    partials: list[Any] = []
    result = client.generate_image(
        "A paper crane", model="gpt-image-1", size="64x64", stream=True, on_partial=partials.append
    )
    (sent,) = offline_server.requests
    assert sent["body"]["stream"] is True and sent["body"]["partial_images"] == 2
    assert sent["headers"]["accept"] == "text/event-stream"
    assert len(partials) == 2 and all(p.mime_type == "image/png" and p.size == (64, 64) for p in partials)
    assert len({p.data for p in partials} | {result[0].data}) == 3
    whole = client.generate_image("A paper crane", model="gpt-image-1", size="64x64")
    assert result[0].data == whole[0].data and result.usage == whole.usage
    edits: list[Any] = []
    edited = client.generate_image(
        "Fold it", images=[drawn("PNG")], size="32x32", stream=True, partial_images=1, on_partial=edits.append
    )
    assert len(edits) == 1 and edits[0].size == edited[0].size == (32, 32)  # image_edit.* events
    assert posts(offline_server, "/v1/images/edits")[0]["body"]["partial_images"] == "1"


def test_an_image_from_a_link_is_downloaded_without_the_key(client, offline_server, other_host):
    other_host.add(body=drawn("JPEG"), content_type="image/jpeg")
    client.generate_image("Make it brighter", images=f"{other_host.url}/inputs/cat.jpg", size="64x64")
    (download,) = other_host.requests
    assert download.path == "/inputs/cat.jpg" and "authorization" not in download.headers
    (sent,) = posts(offline_server, "/v1/images/edits")
    assert sent["body"]["image"][0]["filename"] == "cat.jpg"


def test_failures_read_as_one_line(client, offline_server):
    with pytest.raises(BadRequestError) as caught:
        client.generate_image("anything", model="fault-failed")
    assert caught.value.code == "moderation_blocked" and "\n" not in str(caught.value)
    with pytest.raises(ResponseFailedError, match="injected an error") as streamed:
        client.generate_image("anything", model="fault-error-event", stream=True, on_partial=print)
    assert "\n" not in str(streamed.value)
    with pytest.raises(RateLimitError):
        client.generate_image("anything", model="fault-429")
    assert KEY not in str(caught.value) + str(streamed.value)


def test_a_rate_limited_image_is_tried_again(offline_server):
    offline_server.inject("429")
    with Client(api_key=KEY, base_url=offline_server.url, max_retries=1) as client:
        result = client.generate_image("A kite", model="gpt-image-1", size="32x32")
    assert len(posts(offline_server, "/v1/images/generations")) == 2 and png_size(result[0].data) == (32, 32)


@pytest.mark.parametrize(
    "options,words",
    [
        ({"on_partial": print}, "stream=True"),
        ({"mask": drawn("PNG")}, "images to edit"),
        ({"images": [b"not an image"]}, "not a PNG, JPEG or WebP"),
        ({"images": "/no/such/file.png"}, "Could not read the input image"),
        ({"images": 42}, "not int"),
        ({"n": 11}, "1 to 10"),
    ],
)
def test_what_cannot_work_is_refused_before_anything_is_sent(client, offline_server, options, words):
    with pytest.raises(ConfigurationError, match=words) as caught:
        client.generate_image("A kite", **options)
    assert offline_server.requests == [] and "\n" not in str(caught.value)


def test_async_generation_downloads_its_links_too(offline_server):
    async def main() -> list[ImageResult]:
        async with AsyncClient(api_key=KEY, base_url=offline_server.url) as client:
            return list(
                await asyncio.gather(
                    client.generate_image("A fox", model="gpt-image-2", size="48x48"),
                    client.generate_image("A fox", model="gpt-image-1", size="48x48"),
                    client.generate_image("A fox", images=[drawn("PNG")], size="48x48"),
                )
            )

    linked, inline, edited = asyncio.run(main())
    assert linked[0].data == inline[0].data and linked[0].url and inline[0].url is None
    assert png_size(edited[0].data) == (48, 48) and edited[0].data != inline[0].data


# --- recorded answers, served by the loopback server ------------------------------------


@pytest.mark.parametrize("prefix", ["02", "03", "05"])
def test_base64_fixture_over_http(http_server, prefix):
    data = load(prefix)
    http_server.add(body=json.dumps(data).encode())
    edit = prefix == "05"
    with Client(api_key=KEY, base_url=http_server.url, max_retries=0) as client:
        result = client.generate_image("A cute otter", model="gpt-image-1", images=[drawn("PNG")] if edit else None)
    (sent,) = http_server.requests
    assert sent.path == ("/v1/images/edits" if edit else "/v1/images/generations")
    assert [image.data for image in result] == [base64.b64decode(item["b64_json"]) for item in data["data"]]
    assert [image.revised_prompt for image in result] == [item.get("revised_prompt") for item in data["data"]]
    usage = data.get("usage") or {}
    assert (result.usage.input_tokens, result.usage.output_tokens) == (
        usage.get("input_tokens", 0),
        usage.get("output_tokens", 0),
    )


@pytest.mark.parametrize("prefix", ["01", "04"])
def test_link_fixture_is_downloaded_from_its_host_without_the_key(http_server, other_host, prefix):
    data = load(prefix)
    signed = urlsplit(data["data"][0]["url"])
    assert signed.scheme == "https" and signed.query
    link = f"{other_host.url}{signed.path}?{signed.query}"  # the same signed path and query, on another origin
    data["data"][0]["url"] = link
    http_server.add(body=json.dumps(data).encode())
    png = drawn("PNG", (32, 16))
    other_host.add(body=png, content_type="application/octet-stream")  # signed storage often says so
    with Client(api_key=KEY, base_url=http_server.url, headers={"X-Relay-Key": "relay-secret"}) as client:
        result = client.generate_image("A cute otter", model="gpt-image-2")
    (download,) = other_host.requests
    assert download.path == f"{signed.path}?{signed.query}"
    assert not key_seen(other_host) and "authorization" not in download.headers
    assert "x-relay-key" not in download.headers and "modelname" not in download.headers
    assert http_server.requests[0].headers["x-relay-key"] == "relay-secret"
    assert result[0].data == png and result[0].url == link and result[0].size == (32, 16)
    assert result.usage.total_tokens == (data.get("usage") or {}).get("total_tokens", 0)


def test_a_link_that_redirects_to_storage_is_followed_and_the_key_stays_home(http_server, other_host):
    png = drawn("PNG", (24, 24))

    def api(request: Any) -> Any:
        if request.path.startswith("/v1/images/"):
            body = {"created": 1, "data": [{"url": f"{http_server.url}/files/img_1.png"}]}
            return http_server.Reply(body=json.dumps(body).encode())
        return http_server.Reply(302, headers={"Location": f"{other_host.url}/bucket/img_1.png?sig=x"})

    http_server.handler = api
    other_host.add(body=png, content_type="image/png")
    with Client(api_key=KEY, base_url=http_server.url) as client:
        result = client.generate_image("A kite", model="gpt-image-2")
    own = http_server.requests[1]
    assert own.path == "/files/img_1.png" and own.headers["authorization"] == f"Bearer {KEY}"
    (moved,) = other_host.requests
    assert moved.path == "/bucket/img_1.png?sig=x" and not key_seen(other_host)
    assert result[0].data == png


def test_a_failed_download_keeps_the_made_image_and_its_link(http_server, other_host):
    link = f"{other_host.url}/expired.png"
    http_server.add(body=json.dumps({"created": 1, "data": [{"url": link}]}).encode())
    other_host.add(status=404, body=b"<html><title>404 Not Found</title></html>", content_type="text/html")
    with Client(api_key=KEY, base_url=http_server.url, max_retries=0) as client:
        with pytest.raises(NotFoundError) as caught:
            client.generate_image("A kite", model="gpt-image-2")
    error = caught.value
    assert "was made but its download failed" in str(error) and "\n" not in str(error)
    assert [image.url for image in error.result.pending] == [link]  # type: ignore[attr-defined]
    assert not key_seen(other_host)


def test_error_fixture_over_http(http_server):
    http_server.add(status=400, body=json.dumps(load("06")).encode())
    with Client(api_key=KEY, base_url=http_server.url, max_retries=2) as client:
        with pytest.raises(BadRequestError) as caught:
            client.generate_image("A kite", model="dall-e-3", response_format="url")
    assert caught.value.param == "response_format" and isinstance(caught.value, HaoeeError)
    assert len(http_server.requests) == 1 and http_server.requests[0].json["response_format"] == "url"
