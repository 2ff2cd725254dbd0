"""Images and videos against every recorded fixture in tests/fixtures/media-api/, and their bundles.

Expected values come from the fixtures themselves (base64 decoded here, PNG headers read here
with struct, fields read from the JSON); test images in other formats are drawn with Pillow, so
the sniffing is checked against an independent encoder. Streamed images and failed video jobs
have no public recording (SOURCES.md): those payloads are built here from the documented shape.
"""

from __future__ import annotations

import base64
import io
import json
import struct
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image as PILImage

from haoee_jupyter import (
    BadRequestError,
    Client,
    ConfigurationError,
    HaoeeError,
    ProtocolError,
    ResponseFailedError,
)
from haoee_jupyter.client._images import (
    DownloadReader,
    ImagesReader,
    ImageStreamState,
    image_edit_form,
    image_generation_body,
    image_result_from_json,
)
from haoee_jupyter.client._stream import SSEDecoder
from haoee_jupyter.client._videos import (
    Video,
    VideoFailedError,
    VideoFileReader,
    VideoReader,
    VideoResult,
    content_url,
    poll_delay,
    video_create_form,
    video_list_from_json,
    video_remix_body,
)

FIXTURES = Path(__file__).parent / "fixtures" / "media-api"
B64_IMAGES = ["02", "03", "05"]
URL_IMAGES = ["01", "04"]
VIDEOS = ["07", "08", "09", "10"]
MP4 = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + b"\x00\x00\x00\x08free" + bytes(64)


@pytest.fixture(autouse=True)
def _isolated_settings(monkeypatch):
    for name in ("HAOEE_API_KEY", "HAOEE_BASE_URL", "HAOEE_MODEL"):
        monkeypatch.delenv(name, raising=False)
    from haoee_jupyter.client import _settings

    if hasattr(_settings, "session"):  # settings a notebook session set, where that layer keeps them
        monkeypatch.setattr(_settings, "session", {})


def load(prefix: str) -> dict[str, Any]:
    (path,) = FIXTURES.glob(f"{prefix}-*")
    return json.loads(path.read_text("utf-8"))


def drawn(fmt: str, size: tuple[int, int] = (64, 48), **options: Any) -> bytes:
    buffer = io.BytesIO()
    PILImage.new("RGB", size, (200, 30, 30)).save(buffer, fmt, **options)
    return buffer.getvalue()


def png_size(data: bytes) -> tuple[int, int]:
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


# --- images: answers ------------------------------------------------------------------


@pytest.mark.parametrize("prefix", B64_IMAGES)
def test_base64_answer_fixture(prefix):
    data = load(prefix)
    result = image_result_from_json(data, model="gpt-image-1")
    assert len(result) == len(data["data"]) and result.pending == []
    for image, item in zip(result, data["data"]):
        assert image.data == base64.b64decode(item["b64_json"])
        assert image.mime_type == "image/png" and image.size == png_size(image.data)
        assert image.revised_prompt == item.get("revised_prompt") and image.url is None
    if "size" in data:
        assert "x".join(map(str, result[0].size)) == data["size"]
    usage = data.get("usage") or {}
    assert (result.usage.input_tokens, result.usage.output_tokens, result.usage.total_tokens) == (
        usage.get("input_tokens", 0),
        usage.get("output_tokens", 0),
        usage.get("total_tokens", 0),
    )
    assert result.created == data["created"] and result.model == "gpt-image-1"
    assert result.revised_prompts == [i["revised_prompt"] for i in data["data"] if i.get("revised_prompt")]
    # raw keeps the answer's fields but not the megabytes of base64 (they are in .data)
    assert "b64_json" not in json.dumps(result.raw) and result.raw["created"] == data["created"]


@pytest.mark.parametrize("prefix", URL_IMAGES)
def test_url_answer_fixture_leaves_the_download_to_the_caller(prefix):
    data = load(prefix)
    result = image_result_from_json(data)
    assert [image.url for image in result.pending] == [item["url"] for item in data["data"]]
    assert result.usage.total_tokens == (data.get("usage") or {}).get("total_tokens", 0)
    jpeg = drawn("JPEG", (40, 30))
    result.pending[0].attach(jpeg)
    assert result.pending == [] and result[0].mime_type == "image/jpeg" and result[0].size == (40, 30)
    assert result[0].url == data["data"][0]["url"]  # the source is still named


def test_downloaded_page_that_is_not_an_image_is_refused():
    result = image_result_from_json(load("04"))
    with pytest.raises(ProtocolError, match="not an image"):
        result[0].attach(b"<html><body>AccessDenied</body></html>")
    assert result.pending  # still waiting for real bytes


def test_data_uri_answers_are_decoded_at_once():
    png = drawn("PNG")
    uri = "data:image/png;base64," + base64.b64encode(png).decode()
    result = image_result_from_json({"created": 1, "data": [{"url": uri}, {"b64_json": uri}]})
    assert result.pending == [] and [image.data for image in result] == [png, png]


def test_mime_type_is_read_from_the_bytes_not_the_request():
    webp = drawn("WEBP", (30, 20))
    result = image_result_from_json({"data": [{"b64_json": base64.b64encode(webp).decode()}], "output_format": "png"})
    assert result[0].mime_type == "image/webp" and result[0].size == (30, 20)


@pytest.mark.parametrize(
    "fmt,options",
    [
        ("PNG", {}),
        ("JPEG", {}),
        ("JPEG", {"progressive": True}),
        ("WEBP", {}),
        ("WEBP", {"lossless": True}),
        ("GIF", {}),
    ],
)
def test_sizes_of_every_format(fmt, options):
    image = image_result_from_json(
        {"data": [{"b64_json": base64.b64encode(drawn(fmt, (321, 123), **options)).decode()}]}
    )[0]
    assert image.size == (321, 123) and image.mime_type == f"image/{fmt.lower()}"


@pytest.mark.parametrize(
    "body,cls,words",
    [
        (load("06"), ResponseFailedError, "Unknown parameter: 'response_format'"),
        ({"created": 1, "data": []}, ResponseFailedError, "no images"),
        ({"created": 1, "data": [{"revised_prompt": "x"}]}, ProtocolError, "neither b64_json nor url"),
        ({"data": [{"b64_json": "not base64!"}]}, ProtocolError, "not valid base64"),
        ({"object": "list"}, ProtocolError, "not an images answer"),
    ],
)
def test_image_answers_that_fail(body, cls, words):
    with pytest.raises(cls, match=words) as caught:
        image_result_from_json(body)
    assert "\n" not in str(caught.value)


def test_image_error_fixture_over_http_is_a_bad_request(http_server):
    (path,) = FIXTURES.glob("06-*")
    http_server.add(status=400, body=path.read_bytes())
    with Client(api_key="sk-test-media-0123456789", base_url=http_server.url, max_retries=0) as client:
        with pytest.raises(BadRequestError) as caught:
            client.respond("hi")
    assert caught.value.code == "unknown_parameter" and caught.value.param == "response_format"


# --- images: saving and showing -------------------------------------------------------


def test_save_adds_the_extension_and_the_bundle_names_the_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = image_result_from_json(load("03"))
    path = result[0].save("haoee-media/goose")
    assert path == tmp_path / "haoee-media" / "goose.png" and path.read_bytes() == result[0].data
    bundle = result[0]._repr_mimebundle_()
    assert base64.b64decode(bundle["image/png"]) == result[0].data
    assert "1536x1024" in bundle["text/plain"] and "haoee-media/goose.png" in bundle["text/plain"]
    shown = result._repr_mimebundle_()  # one image: its own MIME type; model and tokens in the text
    assert "image/png" in shown and "6,208 out tokens" in shown["text/plain"]


def test_several_images_show_in_a_row(tmp_path):
    result = image_result_from_json(load("02"))
    paths = result.save(tmp_path, "otter")
    assert [p.name for p in paths] == ["otter-1.png", "otter-2.png"]
    bundle = result._repr_mimebundle_()
    assert bundle["text/html"].count('<img src="data:image/png;base64,') == 2
    assert bundle["text/plain"].count("Image 1024x1024 PNG") == 2 and "Revised prompt: A small" in bundle["text/plain"]


def test_an_image_not_yet_downloaded_shows_as_text():
    image = image_result_from_json(load("01"))[0]
    assert image._repr_mimebundle_() == {"text/plain": f"Image not downloaded yet: {image.url}"}
    with pytest.raises(ConfigurationError, match="not been downloaded"):
        image.save("x")


# --- images: requests -----------------------------------------------------------------


def test_generation_body_asks_dall_e_for_base64_and_gpt_image_for_nothing():
    assert image_generation_body("a cat", model="dall-e-3")["response_format"] == "b64_json"
    body = image_generation_body(
        "a cat", model="gpt-image-2", n=2, size="1536x1024", quality="high", output_format="webp"
    )
    assert body == {
        "prompt": "a cat",
        "model": "gpt-image-2",
        "n": 2,
        "size": "1536x1024",
        "quality": "high",
        "output_format": "webp",
    }
    assert image_generation_body("a", model="nano-banana-2", response_format="url")["response_format"] == "url"


@pytest.mark.parametrize(
    "options,words",
    [
        ({"n": 0}, "n must be"),
        ({"size": "big"}, "size must be"),
        ({"partial_images": 2}, "stream=True"),
        ({"prompt": " "}, "empty"),
    ],
)
def test_generation_body_refuses_what_cannot_work(options, words):
    with pytest.raises(ConfigurationError, match=words):
        image_generation_body(**{"prompt": "a cat", "model": "gpt-image-1", **options})


def test_edit_form_one_image_many_images_and_a_mask():
    png, jpeg = drawn("PNG"), drawn("JPEG")
    data, files = image_edit_form("add a hat", [("cat.png", png)], model="gpt-image-1", n=1, input_fidelity="high")
    assert data == {"prompt": "add a hat", "model": "gpt-image-1", "n": "1", "input_fidelity": "high"}
    assert files == [("image", ("cat.png", png, "image/png"))]
    data, files = image_edit_form("merge", [png, jpeg], model="gpt-image-1", mask=png, stream=True, partial_images=1)
    assert [(name, f[0], f[2]) for name, f in files] == [
        ("image[]", "image-1.png", "image/png"),
        ("image[]", "image-2.jpg", "image/jpeg"),
        ("mask", "mask.png", "image/png"),
    ]
    assert data["stream"] == "true" and data["partial_images"] == "1"
    request = httpx.Request("POST", "https://example.org/v1/images/edits", data=data, files=files)
    body = request.read()
    assert request.headers["content-type"].startswith("multipart/form-data")
    assert body.count(b'name="image[]"; filename=') == 2 and png in body and jpeg in body


def test_edit_form_refuses_files_that_are_not_images():
    with pytest.raises(ConfigurationError, match="not a PNG, JPEG or WebP"):
        image_edit_form("x", [("notes.txt", b"hello")], model="gpt-image-1")
    with pytest.raises(ConfigurationError, match="mask must be a PNG"):
        image_edit_form("x", [drawn("PNG")], model="gpt-image-1", mask=drawn("JPEG"))
    with pytest.raises(ConfigurationError, match="1 to 16 images"):
        image_edit_form("x", [], model="gpt-image-1")


# --- images: streamed -----------------------------------------------------------------


def image_events(n: int = 1, partials: int = 2, done: bool = False) -> bytes:
    frames = []
    for i in range(n):
        for p in range(partials):
            event = {
                "type": "image_generation.partial_image",
                "partial_image_index": p,
                "b64_json": base64.b64encode(drawn("PNG", (8 + p, 8))).decode(),
            }
            frames.append(event)
        final = {
            "type": "image_generation.completed",
            "b64_json": base64.b64encode(drawn("PNG", (16, 16 + i))).decode(),
            "created_at": 5,
        }
        final["usage"] = {"input_tokens": 10, "output_tokens": 100, "total_tokens": 110}
        frames.append(final)
    text = "".join(f"event: {f['type']}\ndata: {json.dumps(f)}\n\n" for f in frames)
    return (text + ("data: [DONE]\n\n" if done else "")).encode()


def run_image_stream(pieces: list[bytes], n: int = 1) -> tuple[Any, list[Any]]:
    shown: list[Any] = []
    decoder, state = SSEDecoder(), ImageStreamState(shown.append, n=n, model="gpt-image-1")
    for piece in pieces:
        for payload in decoder.feed(piece):
            if state.feed_payload(payload):
                return state.result(), shown
    for payload in decoder.finish():
        if state.feed_payload(payload):
            break
    return state.result(), shown


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), n=st.integers(1, 3), done=st.booleans())
def test_image_stream_in_random_chunks(data, n, done):
    raw = image_events(n, done=done)
    cuts = sorted(data.draw(st.sets(st.integers(1, len(raw) - 1), max_size=40)))
    result, shown = run_image_stream([raw[a:b] for a, b in zip([0, *cuts], [*cuts, len(raw)])], n=n)
    assert [image.size for image in shown] == [(8, 8), (9, 8)] * n
    assert [image.size for image in result] == [(16, 16 + i) for i in range(n)]
    assert result.usage.total_tokens == 110 * n and result.model == "gpt-image-1"


def test_image_stream_failures():
    error = b'event: error\ndata: {"type": "error", "error": {"code": "moderation_blocked", "message": "Your request was rejected"}}\n\n'
    with pytest.raises(ResponseFailedError, match="rejected") as caught:
        run_image_stream([error])
    assert caught.value.code == "moderation_blocked"
    cut = image_events()
    with pytest.raises(ProtocolError, match="before any image was complete"):
        run_image_stream([cut[: cut.index(b"event: image_generation.completed")]])


def test_one_huge_image_event_costs_the_same_cpu_in_small_chunks_as_in_large_ones():
    # A 4 MB event (3 MB of image as base64) split into 4 KB chunks, as a slow link delivers it,
    # against 1 MB chunks: a decoder that joined its pending text at every chunk would be
    # quadratic (about 30 times slower here). CPU time of this process, best of 3, interleaved.
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * (3 * 4096)
    event = {"type": "image_generation.completed", "b64_json": base64.b64encode(png).decode()}
    raw = f"event: image_generation.completed\ndata: {json.dumps(event)}\n\n".encode()
    assert len(raw) > 4_000_000

    def cpu(size: int) -> float:
        pieces = [raw[i : i + size] for i in range(0, len(raw), size)]
        start = time.process_time()
        result, _ = run_image_stream(pieces)
        spent = time.process_time() - start
        assert result[0].data == png
        return spent

    small, large = [], []
    for _ in range(3):
        small.append(cpu(4096))
        large.append(cpu(1 << 20))
    assert min(small) < 3 * min(large)


@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_crlf_stream_cut_anywhere_gives_the_same_events(data):
    raw = image_events(2, done=True).replace(b"\n", b"\r\n")
    cuts = sorted(data.draw(st.sets(st.integers(1, len(raw) - 1), max_size=60)))
    cuts += [raw.index(b"\r\n") + 1]  # a chunk that ends between the CR and the LF
    cuts = sorted(set(cuts))
    result, shown = run_image_stream([raw[a:b] for a, b in zip([0, *cuts], [*cuts, len(raw)])], n=2)
    whole, whole_shown = run_image_stream([raw], n=2)
    assert [i.data for i in result] == [i.data for i in whole] and len(shown) == len(whole_shown) == 4


# --- videos ---------------------------------------------------------------------------


@pytest.mark.parametrize("prefix", VIDEOS)
def test_video_fixture(prefix):
    data = load(prefix)
    job = Video.from_json(data)
    assert (job.id, job.status, job.model, job.size) == (data["id"], data["status"], data["model"], data["size"])
    assert job.seconds == int(data["seconds"]) and job.created_at == data["created_at"]
    assert job.progress == data["progress"] and job.done == (data["status"] == "completed") and not job.failed
    assert job.remixed_from_video_id == data.get("remixed_from_video_id")
    assert job.expires_at == data.get("expires_at") and job.raise_for_failure() is job
    plain = job._repr_mimebundle_()["text/plain"]
    assert data["id"] in plain and data["status"] in plain and f"{data['seconds']} s" in plain


def test_video_list_fixture():
    data = load("11")
    assert [job.id for job in video_list_from_json(data)] == [item["id"] for item in data["data"]]


def test_failed_job_is_one_line_with_the_servers_reason():
    failed = {
        **load("07"),
        "status": "failed",
        "error": {"code": "moderation_blocked", "message": "The prompt was blocked."},
    }
    job = Video.from_json(failed)
    assert job.done and job.failed
    with pytest.raises(VideoFailedError) as caught:
        job.raise_for_failure()
    error = caught.value
    assert isinstance(error, ResponseFailedError) and isinstance(error, HaoeeError) and error.video is job
    assert error.code == "moderation_blocked" and job.id in str(error) and "The prompt was blocked" in str(error)
    assert "\n" not in str(error) and "failed: The prompt was blocked" in job._repr_mimebundle_()["text/plain"]


def test_video_bodies_that_are_not_jobs():
    with pytest.raises(ResponseFailedError, match="quota"):
        Video.from_json({"error": {"message": "quota exceeded", "code": "quota_not_enough"}})
    with pytest.raises(ProtocolError, match="not a video job"):
        Video.from_json({"data": []})


def test_poll_delay_honours_the_server_then_backs_off():
    assert poll_delay(0, httpx.Headers({"OpenAI-Poll-After-MS": "2500"})) == 2.5
    assert poll_delay(3, {"openai-poll-after-ms": "5"}) == 0.5  # never hammer the server
    assert poll_delay(3, {"openai-poll-after-ms": "999999999"}) == 60.0
    delays = [poll_delay(n, {"openai-poll-after-ms": "soon"}) for n in range(8)]
    assert delays[0] == 2.0 and delays == sorted(delays) and max(delays) == 10.0


def test_content_answer_is_the_file_or_a_link():
    assert content_url("video/mp4", MP4) is None
    assert content_url("application/octet-stream", MP4) is None
    assert content_url("text/plain", MP4) is None  # it is a video by its own bytes
    assert content_url("application/json", b'{"url": "https://cdn.example/v.mp4"}') == "https://cdn.example/v.mp4"
    with pytest.raises(ResponseFailedError, match="not ready"):
        content_url("application/json", b'{"error": {"message": "Video is not ready yet", "code": "not_ready"}}')
    with pytest.raises(ProtocolError, match="neither a video nor a link"):
        content_url("text/html", b"<html>502 Bad Gateway</html>")


def test_video_plays_from_a_file_beside_the_notebook(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    video = VideoResult(Video.from_json(load("09")), MP4)
    inline = video._repr_mimebundle_()
    assert "<video controls" in inline["text/html"] and 'src="data:video/mp4;base64,' in inline["text/html"]
    path = video.save("haoee-media/cat piano")
    assert path == tmp_path / "haoee-media" / "cat piano.mp4" and path.read_bytes() == MP4
    bundle = video._repr_mimebundle_()
    assert 'src="haoee-media/cat%20piano.mp4"' in bundle["text/html"] and "base64" not in bundle["text/html"]
    plain = bundle["text/plain"]
    assert all(fact in plain for fact in (video.id, "4 s", "720x1280", "haoee-media/cat piano.mp4"))
    assert video.mime_type == "video/mp4" and video.usage.total_tokens == 0


def test_a_download_that_is_not_a_video_is_refused():
    with pytest.raises(ProtocolError, match="not a video file"):
        VideoResult(Video.from_json(load("09")), b"<html>expired</html>")


def test_create_form_is_multipart_even_without_a_file():
    data, files = video_create_form("A calico cat playing a piano on stage", model="sora-2", seconds=4, size="720x1280")
    assert data == {
        "prompt": "A calico cat playing a piano on stage",
        "model": "sora-2",
        "seconds": "4",
        "size": "720x1280",
    }
    request = httpx.Request("POST", "https://example.org/v1/videos", data=data, files=files)
    assert request.headers["content-type"].startswith("multipart/form-data")
    assert b'name="seconds"\r\n\r\n4\r\n' in request.read()


def test_create_form_with_a_reference_image():
    image = drawn("JPEG", (1280, 720))
    _, files = video_create_form("go", size="1280x720", input_reference=("frame.jpg", image))
    assert files == [("input_reference", ("frame.jpg", image, "image/jpeg"))]
    with pytest.raises(ConfigurationError, match="1280x720 but the video size is 720x1280"):
        video_create_form("go", size="720x1280", input_reference=image)
    for options, words in [
        ({"seconds": "four"}, "seconds"),
        ({"size": "720p"}, "size"),
        ({"input_reference": b"text"}, "not a PNG"),
    ]:
        with pytest.raises(ConfigurationError, match=words):
            video_create_form("go", **options)
    assert video_remix_body("Extend the scene") == {"prompt": "Extend the scene"}
    with pytest.raises(ConfigurationError, match="empty"):
        video_remix_body("  ")


def test_readers_for_the_request_path():
    (path,) = FIXTURES.glob("08-*")
    reader = VideoReader()
    job = reader.content(httpx.Response(200, headers={"openai-poll-after-ms": "1200"}), path.read_bytes())
    assert (job.status, job.progress, job.poll_after) == ("in_progress", 33, 1.2)
    assert reader.content(httpx.Response(200), path.read_bytes()).poll_after is None  # the backoff rule then
    with pytest.raises(ProtocolError, match="not JSON"):
        reader.content(httpx.Response(200), b"<html>")
    done = Video.from_json(load("09"))
    content = VideoFileReader(done)
    found = content.content(httpx.Response(200, headers={"content-type": "video/mp4"}), MP4)
    assert isinstance(found, VideoResult) and found.data == MP4 and found.video is done and found.url is None
    link = b'{"url": "https://cdn.example/v.mp4"}'
    assert (
        content.content(httpx.Response(200, headers={"content-type": "application/json"}), link)
        == "https://cdn.example/v.mp4"
    )
    followed = VideoFileReader(done, url="https://cdn.example/v.mp4").content(httpx.Response(200), MP4)
    assert isinstance(followed, VideoResult) and followed.url == "https://cdn.example/v.mp4"
    with pytest.raises(ProtocolError, match="not a video file"):
        VideoFileReader(done, url="https://cdn.example/v.mp4").content(httpx.Response(200), b"<html>")
    assert ImagesReader("gpt-image-1-mini").json(load("03")).usage.total_tokens == load("03")["usage"]["total_tokens"]
    assert DownloadReader().content(httpx.Response(200), b"bytes") == b"bytes"


def test_every_given_create_field_is_sent():
    data, _ = video_create_form("go", model="sora-2", watermark=False, seconds=8)
    assert data == {"prompt": "go", "model": "sora-2", "seconds": "8", "watermark": "false"}


# --- garbage servers: nothing but HaoeeError escapes the media and chat calls ------------

MEDIA_KEYS = ["data", "b64_json", "url", "revised_prompt", "usage", "created", "error", "message", "code", "type"]
MEDIA_KEYS += ["id", "object", "status", "progress", "model", "seconds", "size", "choices", "delta", "content"]
MEDIA_KEYS += ["finish_reason", "index", "reasoning_content", "partial_image_index", "input_tokens", "total_tokens"]
media_leaves = (
    st.none()
    | st.booleans()
    | st.integers(-3, 200)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=5)
    | st.sampled_from(["video", "completed", "failed", "queued", "in_progress", "length", "stop", "iVBORw0KGgo="])
    | st.sampled_from(["image_generation.partial_image", "image_generation.completed", "data:image/png;base64,xx"])
)
media_json = st.recursive(
    media_leaves,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(MEDIA_KEYS), inner, max_size=5),
    max_leaves=10,
)
MEDIA_GARBAGE = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
DONE_JOB = Video.from_json({"id": "video_1", "object": "video", "status": "completed", "model": "sora-2"})
CALLS = {
    "image": lambda c: c.generate_image("a cat", model="gpt-image-1"),
    "image stream": lambda c: c.generate_image("a cat", model="gpt-image-1", stream=True, on_partial=repr),
    "edit": lambda c: c.generate_image("a hat", images=[drawn("PNG")]),
    "create video": lambda c: c.create_video("a cat"),
    "retrieve video": lambda c: c.retrieve_video("video_1"),
    "download video": lambda c: c.download_video(DONE_JOB),
    "wait video": lambda c: c.wait_video("video_1", timeout=0.01),
    "chat": lambda c: c.respond("hi", api="chat"),
    "chat stream": lambda c: c.respond("hi", api="chat", stream=True, on_text=repr, on_reasoning=repr),
}


@pytest.fixture(scope="module")
def media_garbage_client(_loopback_server):
    with Client(api_key="sk-test-garbage-0123456789", base_url=_loopback_server.url, max_retries=0) as client:
        yield client


def touch(result: Any) -> None:
    repr(result), getattr(result, "_repr_mimebundle_", lambda: None)()
    for image in getattr(result, "images", []):
        image.mime_type, image.size, repr(image), image._repr_mimebundle_()


@MEDIA_GARBAGE
@given(
    call=st.sampled_from(sorted(CALLS)),
    body=media_json.map(lambda v: json.dumps(v).encode()) | st.binary(max_size=300),
    framing=st.sampled_from(["json", "sse", "bytes"]),
)
def test_garbage_answers_raise_only_haoee_errors(http_server, media_garbage_client, call, body, framing):
    http_server.reset()
    content_type = {"json": "application/json", "sse": "text/event-stream", "bytes": "application/octet-stream"}
    if framing == "sse":
        body = b"data: " + body + b"\n\n"
    http_server.add(http_server.Reply(200, [body], content_type=content_type[framing]))
    try:
        touch(CALLS[call](media_garbage_client))
    except HaoeeError as e:
        assert "\n" not in str(e)
