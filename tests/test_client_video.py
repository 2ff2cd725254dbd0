"""Video jobs through the public clients, over real loopback HTTP: the offline server and the recorded fixtures.

What matters most here is money and resumability: a create is sent once (a second job is billed
twice), and once a job exists every failure, timeout or Ctrl-C names it and says how to go on.
Jobs on the offline server are held with a long ``video_ms`` and let go with 0, so no test
depends on how fast the machine is.
"""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import threading
import time
from importlib import resources
from pathlib import Path
from typing import Any

import httpx
import pytest

from haoee_jupyter import (
    APIConnectionError,
    APITimeoutError,
    AsyncClient,
    Client,
    ConfigurationError,
    NotFoundError,
    RateLimitError,
    ServerError,
    Video,
    VideoFailedError,
    VideoPendingError,
    VideoResult,
)

KEY = "sk-test-video-0123456789abcdef"
FIXTURES = Path(__file__).parent / "fixtures" / "media-api"
DEMO_MP4 = (resources.files("haoee_jupyter.offline") / "assets" / "demo.mp4").read_bytes()
HOLD = 600_000  # ms: a job that will not finish while a test looks at it


@pytest.fixture(autouse=True)
def _isolated_settings(monkeypatch):
    for name in ("HAOEE_API_KEY", "HAOEE_BASE_URL", "HAOEE_MODEL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def client(offline_server):
    with Client(api_key=KEY, base_url=offline_server.url, max_retries=2) as client:
        yield client


@pytest.fixture
def other_host(http_server):
    server = type(http_server)()
    yield server
    server.close()


def fixture(prefix: str) -> bytes:
    (path,) = FIXTURES.glob(f"{prefix}-*")
    return path.read_bytes()


def creates(server: Any) -> list[dict[str, Any]]:
    return [r for r in server.requests if r["method"] == "POST" and r["path"] == "/v1/videos"]


def let_go_once_running(server: Any, seen: list[Video]) -> Any:
    """An on_progress that records each job state and lets the held job finish once it runs."""

    def on_progress(job: Video) -> None:
        seen.append(job)
        if job.status == "in_progress":
            server.video_ms = 0

    return on_progress


# --- the offline server ---------------------------------------------------------------


def test_generate_video_goes_queued_in_progress_completed_and_downloads_the_mp4(client, offline_server, tmp_path):
    offline_server.video_ms = 5000  # polls every 0.5 s; the job runs from 0.75 s
    seen: list[Video] = []
    result = client.generate_video(
        "A paper boat on a river", seconds=4, size="1280x720", on_progress=let_go_once_running(offline_server, seen)
    )
    statuses = [job.status for job in seen]
    assert statuses[0] == "queued" and seen[0].progress == 0  # the created job, heard first
    assert "in_progress" in statuses and statuses[-1] == "completed"
    assert statuses.index("in_progress") < statuses.index("completed")
    progress = [job.progress for job in seen]
    assert progress == sorted(progress) and progress[-1] == 100 and 0 < seen[statuses.index("in_progress")].progress
    assert isinstance(result, VideoResult) and result.data == DEMO_MP4 and result.data[4:8] == b"ftyp"
    assert result.mime_type == "video/mp4" and result.video.status == "completed" and result.url is None
    (create,) = creates(offline_server)
    assert create["body"]["prompt"] == "A paper boat on a river" and create["body"]["seconds"] == "4"
    assert create["headers"]["content-type"].startswith("multipart/form-data")
    polls = [r for r in offline_server.requests if r["method"] == "GET"]
    assert polls[-1]["path"] == f"/v1/videos/{result.id}/content"
    assert all(r["headers"]["modelname"] == "sora-2" and r["authorization_present"] for r in polls)
    assert result.save(tmp_path / "boat").read_bytes() == DEMO_MP4 and result.path == tmp_path / "boat.mp4"


def test_the_steps_one_by_one_and_a_remix(client, offline_server, tmp_path):
    offline_server.video_ms = 0
    reference = tmp_path / "still"
    reference.write_bytes(bytes.fromhex("89504e470d0a1a0a0000000d49484452000000100000001008020000009091683600"))
    job = client.create_video("A cat at a piano", model="sora-2-pro", size="16x16", image=reference)
    assert job.status == "queued" and job.model == "sora-2-pro" and job.id.startswith("video_")
    assert creates(offline_server)[0]["body"]["input_reference"][0]["content_type"] == "image/png"
    assert client.retrieve_video(job.id).status == "completed"
    done = client.wait_video(job)
    assert done.status == "completed" and done.progress == 100 and done.id == job.id
    assert client.download_video(job.id).data == DEMO_MP4
    remix = client.remix_video(done, "Make it night")
    assert remix.remixed_from_video_id == job.id and remix.id != job.id and remix.model == "sora-2-pro"
    (sent,) = [r for r in offline_server.requests if r["path"].endswith("/remix")]
    assert sent["body"] == {"prompt": "Make it night"} and sent["headers"]["modelname"] == "sora-2-pro"
    assert client.download_video(client.wait_video(remix)).data == DEMO_MP4
    listed = [v.id for v in client.list_videos(limit=5)]
    assert listed == [remix.id, job.id]


def test_a_failed_job_is_one_line_naming_the_job(client, offline_server):
    offline_server.video_ms = 0
    with pytest.raises(VideoFailedError) as caught:
        client.generate_video("anything", model="fault-failed")
    error = caught.value
    text = str(error)
    assert error.video_id in text and error.video.status == "failed" and "\n" not in text
    assert "failed this video job on purpose" in text and error.code == "video_generation_failed"
    assert len(creates(offline_server)) == 1


@pytest.mark.parametrize("fault,cls", [("429", RateLimitError), ("500", ServerError)])
def test_a_create_is_never_sent_twice_once_the_server_may_have_it(client, offline_server, fault, cls):
    offline_server.inject(fault)
    with pytest.raises(cls) as caught:
        client.create_video("A kite")  # max_retries=2: an image would be tried again
    assert len(creates(offline_server)) == 1 and caught.value.attempts == 1
    assert ("list_videos" in str(caught.value)) == (fault == "500")  # a proxy's 500 may follow a created job


def test_a_stalled_create_is_not_resent_and_says_where_to_look(offline_server):
    offline_server.inject("stall")
    with Client(api_key=KEY, base_url=offline_server.url, timeout=0.5, max_retries=2) as client:
        with pytest.raises(APITimeoutError) as caught:
            client.create_video("A kite")
        assert len(creates(offline_server)) == 1
        assert "client.list_videos()" in str(caught.value) and "\n" not in str(caught.value)
        offline_server.video_ms = 0
        assert [job.prompt for job in client.list_videos()] == ["A kite"]  # the job is there, billed once


def test_a_create_that_never_reached_a_server_is_tried_again():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again: nothing listens there
    with Client(api_key=KEY, base_url=f"http://127.0.0.1:{port}/v1", max_retries=1) as client:
        with pytest.raises(APIConnectionError) as caught:
            client.create_video("A kite")
    assert caught.value.attempts == 2 and "list_videos" not in str(caught.value)


def test_a_refused_connection_then_a_create_makes_one_job(offline_server):
    attempts: list[str] = []
    real = httpx.HTTPTransport()

    class RefusedOnce(httpx.BaseTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            attempts.append(request.url.path)
            if len(attempts) == 1:
                raise httpx.ConnectError("[Errno 111] Connection refused", request=request)
            return real.handle_request(request)

    with Client(api_key=KEY, base_url=offline_server.url, transport=RefusedOnce(), max_retries=1) as client:
        job = client.create_video("A kite")
    assert attempts == ["/v1/videos", "/v1/videos"] and [j["body"]["prompt"] for j in creates(offline_server)] == [
        "A kite"
    ]
    assert job.status == "queued"


def test_a_wait_that_runs_out_names_the_job_and_resumes(client, offline_server):
    offline_server.video_ms = HOLD
    job = client.create_video("A slow sunrise")
    started = time.monotonic()
    with pytest.raises(VideoPendingError) as caught:
        client.wait_video(job, timeout=0.3)
    assert time.monotonic() - started < 5  # the server asked for 5 s between polls: the deadline came first
    error = caught.value
    assert error.video_id == job.id and f"client.wait_video({job.id!r})" in str(error)
    assert f"%haoee video {job.id}" in str(error) and "after 0.3 s" in str(error) and "\n" not in str(error)
    offline_server.video_ms = 0
    assert client.wait_video(error.video_id).status == "completed"
    assert client.download_video(error.video_id).data == DEMO_MP4 and len(creates(offline_server)) == 1


def test_ctrl_c_while_waiting_names_the_job_which_goes_on(client, offline_server):
    offline_server.video_ms = HOLD
    main = threading.main_thread().ident
    assert main == threading.get_ident()
    seen: list[Video] = []

    def on_progress(job: Video) -> None:
        seen.append(job)
        if len(seen) == 1:  # the job was created; Ctrl-C during the wait for its first poll
            threading.Timer(0.05, signal.pthread_kill, (main, signal.SIGINT)).start()

    with pytest.raises(KeyboardInterrupt) as caught:
        client.generate_video("A long pan over hills", on_progress=on_progress)
    interrupt = caught.value
    video_id = interrupt.video_id  # type: ignore[attr-defined]
    assert video_id == seen[0].id and interrupt.video.id == video_id  # type: ignore[attr-defined]
    assert video_id in str(interrupt) and "goes on at the server" in str(interrupt)
    offline_server.video_ms = 0
    assert client.download_video(client.wait_video(video_id)).data == DEMO_MP4
    assert len(creates(offline_server)) == 1


def test_a_job_id_that_does_not_exist(client):
    with pytest.raises(NotFoundError) as caught:
        client.wait_video("video_nope")
    assert "client.list_videos()" in str(caught.value) and caught.value.video_id == "video_nope"  # type: ignore[attr-defined]
    with pytest.raises(ConfigurationError):
        client.retrieve_video("  ")
    with pytest.raises(ConfigurationError, match="timeout"):
        client.wait_video("video_nope", timeout=0)


def test_async_generate_remix_and_progress(offline_server):
    offline_server.video_ms = 5000
    seen: list[Video] = []

    async def main() -> tuple[VideoResult, Video, list[Video]]:
        async with AsyncClient(api_key=KEY, base_url=offline_server.url) as client:
            result = await client.generate_video("A kite", on_progress=let_go_once_running(offline_server, seen))
            remix = await client.wait_video(await client.remix_video(result.video, "In the rain"))
            return result, remix, await client.list_videos()

    result, remix, listed = asyncio.run(main())
    assert result.data == DEMO_MP4 and [job.status for job in seen][:: len(seen) - 1] == ["queued", "completed"]
    assert remix.remixed_from_video_id == result.id and remix.status == "completed"
    assert {job.id for job in listed} == {result.id, remix.id}


def test_an_async_cancel_while_waiting_names_the_job(offline_server):
    offline_server.video_ms = HOLD

    async def main() -> BaseException:
        async with AsyncClient(api_key=KEY, base_url=offline_server.url) as client:
            job = await client.create_video("A kite")
            task = asyncio.ensure_future(client.wait_video(job))
            await asyncio.sleep(0.2)
            task.cancel()
            try:
                await task
            except asyncio.CancelledError as e:
                return e
            raise AssertionError("the wait was not cancelled")

    cancelled = asyncio.run(main())
    assert cancelled.video_id.startswith("video_")  # type: ignore[attr-defined]


# --- recorded answers, served by the loopback server ------------------------------------


def test_fixture_job_polls_as_the_server_asks_and_downloads_a_link_without_the_key(http_server, other_host):
    created, running, done = (json.loads(fixture(p)) for p in ("07", "08", "09"))
    job_id = created["id"]
    link = f"{other_host.url}/sora/{job_id}.mp4?se=2025-10-19&sig=abc"
    polls = iter([running, done])

    def api(request: Any) -> Any:
        if request.method == "POST":
            return http_server.Reply(body=json.dumps(created).encode(), headers={"openai-poll-after-ms": "500"})
        if request.path.endswith("/content"):
            return http_server.Reply(body=json.dumps({"url": link}).encode())
        return http_server.Reply(body=json.dumps(next(polls)).encode(), headers={"openai-poll-after-ms": "500"})

    http_server.handler = api
    other_host.add(body=DEMO_MP4, content_type="binary/octet-stream")
    seen: list[Video] = []
    with Client(api_key=KEY, base_url=http_server.url) as client:
        result = client.generate_video("A cat", on_progress=seen.append)
    assert [(j.status, j.progress) for j in seen] == [("queued", 0), ("in_progress", 33), ("completed", 100)]
    paths = [r.path for r in http_server.requests]
    assert paths == ["/v1/videos", *[f"/v1/videos/{job_id}"] * 2, f"/v1/videos/{job_id}/content"]
    # each poll names the model the job last reported (the fixtures' second job is sora-2-pro)
    assert [r.headers["modelname"] for r in http_server.requests[1:]] == ["sora-2", "sora-2-pro", "sora-2"]
    assert http_server.requests[-1].headers["accept"] == "application/binary"
    (download,) = other_host.requests
    assert download.path == f"/sora/{job_id}.mp4?se=2025-10-19&sig=abc"
    assert "authorization" not in download.headers and "modelname" not in download.headers
    assert result.data == DEMO_MP4 and result.url == link and result.video.expires_at == done["expires_at"]


def test_waits_are_what_the_server_asks_else_a_backoff(http_server, monkeypatch):
    created, running, done = (fixture(p) for p in ("07", "08", "09"))
    http_server.add(
        http_server.Reply(body=created, headers={"openai-poll-after-ms": "1200"}),
        http_server.Reply(body=running, headers={"openai-poll-after-ms": "700"}),
        http_server.Reply(body=running),
        http_server.Reply(body=done),
    )
    waits: list[float] = []
    monkeypatch.setattr(time, "sleep", waits.append)
    with Client(api_key=KEY, base_url=http_server.url) as client:
        job = client.wait_video(client.create_video("A cat"))
    assert job.status == "completed" and waits == [1.2, 0.7, 4.5]


def test_remix_and_list_fixtures(http_server):
    remix, listing = json.loads(fixture("10")), json.loads(fixture("11"))
    source = remix["remixed_from_video_id"]
    http_server.add(http_server.Reply(status=503, body=b"<html><title>503</title></html>", content_type="text/html"))
    with Client(api_key=KEY, base_url=http_server.url, max_retries=2) as client:
        with pytest.raises(ServerError) as caught:
            client.remix_video(source, "Make it night")
        assert len(http_server.requests) == 1 and "client.list_videos()" in str(caught.value)
        http_server.reset()
        http_server.add(body=fixture("10"))
        job = client.remix_video(source, "Make it night")
        (sent,) = http_server.requests
        assert sent.path == f"/v1/videos/{source}/remix" and sent.json == {"prompt": "Make it night"}
        assert (job.id, job.remixed_from_video_id, job.status) == (remix["id"], source, "queued")
        http_server.reset()
        http_server.add(body=fixture("11"))
        jobs = client.list_videos(limit=3, after="video_a")
    assert http_server.requests[0].path == "/v1/videos?limit=3&after=video_a"
    assert [job.id for job in jobs] == [item["id"] for item in listing["data"]]
