"""The official `openai` SDK against the offline server's chat completions, images and videos.

The SDK builds its models without validating them, so each answer is also validated strictly
(`Model.model_validate` on the raw JSON, or on what the SDK built): a wrong type, a missing
required field or a value outside a Literal fails here, not in a user's notebook.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

openai = pytest.importorskip("openai")

from openai.types import (  # noqa: E402
    ImageEditCompletedEvent,
    ImageEditPartialImageEvent,
    ImageGenCompletedEvent,
    ImageGenPartialImageEvent,
    ImagesResponse,
    Video,
    VideoDeleteResponse,
)
from openai.types.chat import ChatCompletion, ChatCompletionChunk  # noqa: E402

from haoee_jupyter.offline import OfflineServer  # noqa: E402

# The SDK marks its Sora methods deprecated (OpenAI retires that API); Haoee still serves it.
pytestmark = pytest.mark.filterwarnings("ignore:The Sora API:DeprecationWarning")

MESSAGES = [{"role": "system", "content": "Answer as a teacher."}, {"role": "user", "content": "What is a p-value?"}]


@pytest.fixture
def client(offline_server: OfflineServer) -> Iterator[Any]:
    with openai.OpenAI(base_url=offline_server.url, api_key="offline", max_retries=0, timeout=10) as sdk:
        yield sdk


def strict(model: Any) -> Any:
    """Validate what the SDK built (it never validates) against its own class."""
    return type(model).model_validate(model.model_dump(exclude_unset=True, warnings=False))


def png_bytes(b64: str) -> bytes:
    data = base64.b64decode(b64)
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return data


# -- chat completions ----------------------------------------------------------------------


def test_chat_completion_parses(client: Any) -> None:
    raw = client.chat.completions.with_raw_response.create(model="gpt-4.1", messages=MESSAGES)
    completion = raw.parse()
    assert isinstance(completion, ChatCompletion)
    ChatCompletion.model_validate(json.loads(raw.text))
    choice = completion.choices[0]
    assert choice.finish_reason == "stop" and choice.message.role == "assistant"
    assert "Following your instructions: Answer as a teacher." in choice.message.content
    assert completion.usage.total_tokens == completion.usage.prompt_tokens + completion.usage.completion_tokens
    assert completion.usage.completion_tokens_details.reasoning_tokens == 0


def test_chat_stream_with_usage_parses_into_chunks(client: Any) -> None:
    chunks = list(
        client.chat.completions.create(
            model="gpt-4.1", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
        )
    )
    assert chunks and all(type(chunk) is ChatCompletionChunk for chunk in chunks)
    for chunk in chunks:
        strict(chunk)
    *body, last = chunks
    assert last.choices == [] and last.usage.completion_tokens == sum(1 for c in body if c.choices[0].delta.content)
    assert body[-1].choices[0].finish_reason == "stop"
    text = "".join(c.choices[0].delta.content or "" for c in body)
    plain = client.chat.completions.create(model="gpt-4.1", messages=MESSAGES)
    assert text == plain.choices[0].message.content and last.usage == plain.usage


def test_chat_stream_helper_accumulates(client: Any) -> None:
    with client.chat.completions.stream(
        model="gpt-4.1", messages=MESSAGES, stream_options={"include_usage": True}
    ) as stream:
        deltas = [event.delta for event in stream if event.type == "content.delta"]
        final = stream.get_final_completion()
    assert "".join(deltas) == final.choices[0].message.content and final.usage.total_tokens > 0


def test_chat_reasoner_and_token_limit(client: Any) -> None:
    chunks = list(
        client.chat.completions.create(
            model="deepseek-reasoner",
            messages=MESSAGES,
            stream=True,
            stream_options={"include_usage": True},
            max_tokens=60,
        )
    )
    deltas = [c.choices[0].delta for c in chunks if c.choices]
    reasoning = "".join((d.model_extra or {}).get("reasoning_content") or "" for d in deltas)
    content = "".join(d.content or "" for d in deltas)
    assert reasoning.startswith("**Planning an offline answer**") and content
    assert chunks[-2].choices[0].finish_reason == "length"
    usage = chunks[-1].usage
    assert usage.completion_tokens == 60 and 0 < usage.completion_tokens_details.reasoning_tokens < 60
    plain = client.chat.completions.create(model="deepseek-reasoner", messages=MESSAGES, max_completion_tokens=60)
    assert plain.choices[0].finish_reason == "length" and plain.choices[0].message.content == content
    assert (plain.choices[0].message.model_extra or {})["reasoning_content"] == reasoning


def test_chat_errors_are_sdk_errors(client: Any, offline_server: OfflineServer) -> None:
    with pytest.raises(openai.RateLimitError) as limited:
        client.chat.completions.create(model="fault-429", messages=MESSAGES)
    assert limited.value.code == "rate_limit_exceeded"
    with pytest.raises(openai.BadRequestError) as bad:
        client.chat.completions.create(model="gpt-4.1", messages=[])
    assert bad.value.param == "messages"
    seen: list[Any] = []
    with pytest.raises(openai.APIError) as streamed:
        for chunk in client.chat.completions.create(model="fault-error-event", messages=MESSAGES, stream=True):
            seen.append(chunk)
    assert streamed.value.body["code"] == "server_error" and len(seen) == 4
    with pytest.raises(openai.InternalServerError):
        client.chat.completions.create(model="fault-error-event", messages=MESSAGES)
    offline_server.inject("reset")
    with pytest.raises(openai.APIConnectionError):
        client.chat.completions.create(model="gpt-4.1", messages=MESSAGES)


# -- images --------------------------------------------------------------------------------


def test_image_generation_parses(client: Any) -> None:
    raw = client.images.with_raw_response.generate(model="gpt-image-1", prompt="A lighthouse", size="256x256", n=2)
    answer = raw.parse()
    assert isinstance(answer, ImagesResponse)
    ImagesResponse.model_validate(json.loads(raw.text))
    assert answer.size == "256x256" and answer.output_format == "png" and len(answer.data) == 2
    assert all(len(png_bytes(image.b64_json)) > 100 for image in answer.data)
    assert answer.usage.input_tokens_details.text_tokens > 0 and answer.usage.output_tokens_details.image_tokens > 0


def test_image_url_answer(client: Any, offline_server: OfflineServer) -> None:
    answer = client.images.generate(model="gpt-image-2", prompt="A lighthouse", size="128x128")
    strict(answer)
    url = answer.data[0].url
    assert answer.data[0].b64_json is None and url.startswith(offline_server.url)
    import httpx

    assert httpx.get(url).content[:8] == b"\x89PNG\r\n\x1a\n"


def test_image_streams_parse_into_typed_events(client: Any) -> None:
    events = list(
        client.images.generate(model="gpt-image-1", prompt="A kite", size="64x64", stream=True, partial_images=2)
    )
    assert [type(e) for e in events] == [ImageGenPartialImageEvent, ImageGenPartialImageEvent, ImageGenCompletedEvent]
    for event in events:
        strict(event)
        png_bytes(event.b64_json)
    assert [e.partial_image_index for e in events[:2]] == [0, 1] and events[-1].usage.total_tokens > 0


def test_image_edit_parses(client: Any, tmp_path: Path) -> None:
    first = client.images.generate(prompt="A cat", size="96x64")
    picture = tmp_path / "cat.png"
    picture.write_bytes(png_bytes(first.data[0].b64_json))
    edited = client.images.edit(model="gpt-image-1", prompt="Add snow", image=[picture, picture.open("rb")])
    assert isinstance(edited, ImagesResponse) and edited.size == "96x64"
    strict(edited)
    assert edited.data[0].b64_json != first.data[0].b64_json
    events = list(client.images.edit(prompt="Add snow", image=picture, stream=True, partial_images=1))
    assert [type(e) for e in events] == [ImageEditPartialImageEvent, ImageEditCompletedEvent]
    for event in events:
        strict(event)


def test_image_errors_are_sdk_errors(client: Any) -> None:
    with pytest.raises(openai.BadRequestError) as refused:
        client.images.generate(model="fault-failed", prompt="x")
    assert refused.value.code == "moderation_blocked"
    with pytest.raises(openai.BadRequestError) as bad_size:
        client.images.generate(prompt="x", size="9000x9000")
    assert bad_size.value.param == "size"
    with pytest.raises(openai.APIError):
        list(client.images.generate(model="fault-error-event", prompt="x", size="64x64", stream=True))


# -- videos --------------------------------------------------------------------------------


def test_video_job_lifecycle_parses(client: Any, offline_server: OfflineServer, tmp_path: Path) -> None:
    offline_server.video_ms = 200
    try:
        raw = client.videos.with_raw_response.create(model="sora-2", prompt="A cat on a piano", seconds="4")
        created = raw.parse()
        assert isinstance(created, Video) and created.status == "queued"
        Video.model_validate(json.loads(raw.text))
        finished = client.videos.poll(created.id)  # follows openai-poll-after-ms
    finally:
        offline_server.video_ms = None
    assert finished.status == "completed" and finished.progress == 100
    strict(finished)
    assert client.videos.retrieve(created.id) == finished
    content = client.videos.download_content(created.id)
    target = tmp_path / "clip.mp4"
    content.write_to_file(target)
    assert target.read_bytes()[4:8] == b"ftyp"
    remix = client.videos.remix(created.id, prompt="Now at night")
    assert isinstance(remix, Video) and remix.remixed_from_video_id == created.id
    strict(remix)
    page = client.videos.list(order="asc")
    assert [video.id for video in page.data] == [created.id, remix.id] and all(isinstance(v, Video) for v in page)
    deleted = client.videos.delete(remix.id)
    assert isinstance(deleted, VideoDeleteResponse) and deleted.deleted
    strict(deleted)


def test_video_create_and_poll_with_a_reference_image(client: Any, tmp_path: Path) -> None:
    picture = tmp_path / "ref.png"
    picture.write_bytes(png_bytes(client.images.generate(prompt="A cat", size="72x128").data[0].b64_json))
    video = client.videos.create_and_poll(prompt="Make it move", input_reference=picture, size="720x1280")
    assert video.status == "completed" and video.size == "720x1280"


def test_failed_video_job_parses_its_error(client: Any) -> None:
    video = client.videos.create_and_poll(model="fault-failed", prompt="x")
    assert video.status == "failed" and video.error.code == "video_generation_failed"
    strict(video)
    with pytest.raises(openai.BadRequestError) as early:
        client.videos.download_content(video.id)
    assert early.value.code == "video_not_ready"
    with pytest.raises(openai.NotFoundError):
        client.videos.retrieve("video_unknown")
