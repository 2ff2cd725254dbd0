"""`/v1/videos` of the offline server over real HTTP: jobs, polling, the MP4, remix, list, faults.

Timing is controlled, never raced: `server.video_ms` applies to running jobs, so a test holds
a job with a long duration and then lets it finish with 0. Shapes follow fixtures/media-api
07 (create), 09 (completed), 10 (remix) and 11 (list).
"""

from __future__ import annotations

import json
import struct
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from haoee_jupyter.offline import OfflineServer

AUTH = {"Authorization": "Bearer offline-test"}
HOLD_MS = 600_000  # long enough that no test run reaches it
HTTP = httpx.Client(timeout=10)


@pytest.fixture(scope="module", autouse=True)
def _close_http_client() -> Any:
    yield
    HTTP.close()


@pytest.fixture
def server(offline_server: OfflineServer) -> Iterator[OfflineServer]:
    offline_server.video_ms = HOLD_MS
    yield offline_server
    offline_server.video_ms = None


def recorded(name: str) -> Any:
    for folder in (Path(__file__).parent / "fixtures", Path(__file__).parents[2] / "shared" / "fixtures"):
        path = folder / "media-api" / name
        if path.exists():
            return json.loads(path.read_text())
    raise FileNotFoundError(f"media-api/{name}: not in tests/fixtures nor ../shared/fixtures")


def create(server: OfflineServer, files: Any = None, **fields: Any) -> httpx.Response:
    """A create the way the SDK sends it: multipart/form-data, every field a string."""
    fields = {"prompt": "A calico cat playing a piano", **fields}
    parts = files or [("prompt", (None, fields.pop("prompt")))]
    parts = [*parts, *((name, (None, str(value))) for name, value in fields.items())]
    return HTTP.post(f"{server.url}/videos", files=parts, headers=AUTH)


def get(server: OfflineServer, path: str, **params: str) -> httpx.Response:
    return HTTP.get(f"{server.url}/videos{path}", params=params, headers=AUTH)


def mp4_boxes(data: bytes) -> list[str]:
    """The top-level box types of an MP4, checking that their sizes tile the file exactly."""
    boxes, position = [], 0
    while position < len(data):
        size, kind = struct.unpack(">I4s", data[position : position + 8])
        assert size >= 8, (kind, size)
        boxes.append(kind.decode("latin-1"))
        position += size
    assert position == len(data)
    return boxes


def test_create_answers_a_queued_job_shaped_like_the_recording(server: OfflineServer) -> None:
    fixture = recorded("07-delphigenai-sora2-create-queued.json")
    reply = create(server, model="sora-2", seconds="8", size="1280x720")
    assert reply.status_code == 200
    job = reply.json()
    assert list(job)[: len(fixture)] == list(fixture) and list(job)[len(fixture) :] == ["prompt"]
    assert job["id"].startswith("video_") and job["object"] == "video"
    assert (job["status"], job["progress"], job["model"], job["seconds"], job["size"]) == (
        "queued",
        0,
        "sora-2",
        "8",
        "1280x720",
    )
    assert job["completed_at"] is None and job["error"] is None and job["expires_at"] is None
    assert job["prompt"] == "A calico cat playing a piano" and isinstance(job["created_at"], int)
    assert int(reply.headers["openai-poll-after-ms"]) > 0
    logged = server.requests[-1]["body"]
    assert logged == {"prompt": "A calico cat playing a piano", "model": "sora-2", "seconds": "8", "size": "1280x720"}


def test_defaults_and_json_bodies(server: OfflineServer) -> None:
    job = create(server).json()
    assert (job["model"], job["seconds"], job["size"]) == ("sora-2", "4", "720x1280")
    as_json = HTTP.post(f"{server.url}/videos", json={"prompt": "x", "seconds": 12}, headers=AUTH).json()
    assert as_json["seconds"] == "12" and as_json["status"] == "queued"


def test_a_held_job_is_not_done_and_cannot_be_downloaded_until_it_completes(server: OfflineServer) -> None:
    completed_fixture = recorded("09-delphigenai-sora2-retrieve-completed.json")
    job = create(server).json()
    running = get(server, f"/{job['id']}")
    assert running.json()["status"] in ("queued", "in_progress") and running.json()["progress"] < 100
    assert "openai-poll-after-ms" in running.headers
    early = get(server, f"/{job['id']}/content")
    assert early.status_code == 400 and early.json()["error"]["code"] == "video_not_ready"
    server.video_ms = 0
    done = get(server, f"/{job['id']}")
    finished = done.json()
    assert list(finished)[: len(completed_fixture)] == list(completed_fixture)
    assert finished["status"] == "completed" and finished["progress"] == 100
    assert finished["expires_at"] == finished["completed_at"] + 3600 >= finished["created_at"] + 3600
    assert "openai-poll-after-ms" not in done.headers
    server.video_ms = HOLD_MS
    assert get(server, f"/{job['id']}").json()["status"] == "completed"  # never goes back


def test_content_is_a_real_mp4(server: OfflineServer) -> None:
    server.video_ms = 0
    job = create(server).json()
    assert get(server, f"/{job['id']}").json()["status"] == "completed"
    video = get(server, f"/{job['id']}/content")
    assert video.status_code == 200 and video.headers["content-type"] == "video/mp4"
    data = video.content
    assert data[4:8] == b"ftyp" and 2_000 < len(data) < 200_000
    boxes = mp4_boxes(data)
    assert boxes[0] == "ftyp" and boxes.index("moov") < boxes.index("mdat")  # faststart: playable while loading
    assert b"avc1" in data  # H.264
    assert get(server, f"/{job['id']}/content", variant="video").content == data
    thumbnail = get(server, f"/{job['id']}/content", variant="thumbnail")
    assert thumbnail.headers["content-type"] == "image/png" and thumbnail.content[:8] == b"\x89PNG\r\n\x1a\n"
    assert get(server, f"/{job['id']}/content", variant="poster").status_code == 400


def test_progress_rises_while_polling_as_told(server: OfflineServer) -> None:
    server.video_ms = 300
    job = create(server).json()
    seen = [(job["status"], job["progress"])]
    poll_after = 0.0
    while seen[-1][0] not in ("completed", "failed"):
        time.sleep(poll_after)  # wait as the server says, like the SDK's poll()
        reply = get(server, f"/{job['id']}")
        seen.append((reply.json()["status"], reply.json()["progress"]))
        poll_after = int(reply.headers.get("openai-poll-after-ms", "0")) / 1000
        assert len(seen) < 1000
    order = {"queued": 0, "in_progress": 1, "completed": 2}
    assert [order[s] for s, _ in seen] == sorted(order[s] for s, _ in seen)
    assert [p for _, p in seen] == sorted(p for _, p in seen) and seen[-1] == ("completed", 100)


def test_remix_makes_a_new_job_from_a_finished_one(server: OfflineServer) -> None:
    fixture = recorded("10-delphigenai-sora2-remix-queued.json")
    source = create(server, seconds="8").json()
    url = f"{server.url}/videos/{source['id']}/remix"
    early = HTTP.post(url, json={"prompt": "Now at night"}, headers=AUTH)
    assert early.status_code == 400 and early.json()["error"]["code"] == "video_not_ready"
    server.video_ms = 0
    remix = HTTP.post(url, json={"prompt": "Now at night"}, headers=AUTH).json()
    assert set(fixture) <= set(remix) and remix["id"] != source["id"]
    assert remix["remixed_from_video_id"] == source["id"] and remix["status"] == "queued"
    assert (remix["seconds"], remix["prompt"]) == ("8", "Now at night")
    assert HTTP.post(f"{server.url}/videos/video_nope/remix", json={"prompt": "x"}, headers=AUTH).status_code == 404
    assert HTTP.post(url, json={}, headers=AUTH).json()["error"]["param"] == "prompt"


def test_list_pages_and_delete(server: OfflineServer) -> None:
    fixture = recorded("11-delphigenai-sora2-list.json")
    ids = [create(server, prompt=f"clip {i}").json()["id"] for i in range(3)]
    listing = get(server, "").json()
    assert list(listing) == list(fixture) and listing["object"] == "list"
    assert [job["id"] for job in listing["data"]] == ids[::-1] and listing["has_more"] is False
    ascending = get(server, "", order="asc", limit="2").json()
    assert [job["id"] for job in ascending["data"]] == ids[:2] and ascending["has_more"] is True
    assert ascending["first_id"] == ids[0] and ascending["last_id"] == ids[1]
    rest = get(server, "", order="asc", after=ids[1]).json()
    assert [job["id"] for job in rest["data"]] == ids[2:]
    deleted = HTTP.delete(f"{server.url}/videos/{ids[0]}", headers=AUTH)
    assert deleted.json() == {"id": ids[0], "object": "video.deleted", "deleted": True}
    assert get(server, f"/{ids[0]}").status_code == 404
    assert HTTP.delete(f"{server.url}/videos/{ids[0]}", headers=AUTH).status_code == 404
    assert get(server, "", limit="0").status_code == 400


def test_a_failing_job_reports_its_error(server: OfflineServer) -> None:
    server.video_ms = 0
    job = create(server, model="fault-failed").json()
    assert job["status"] == "queued"
    failed = get(server, f"/{job['id']}").json()
    assert failed["status"] == "failed" and failed["completed_at"] is not None
    assert set(failed["error"]) == {"code", "message"} and failed["error"]["code"] == "video_generation_failed"
    download = get(server, f"/{job['id']}/content")
    assert download.status_code == 400 and "failed" in download.json()["error"]["message"]


def test_input_reference_is_accepted_and_logged(server: OfflineServer) -> None:
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 40
    files = [("prompt", (None, "From this picture")), ("input_reference", ("ref.png", png, "image/png"))]
    job = create(server, files=files).json()
    assert job["status"] == "queued"
    assert server.requests[-1]["body"]["input_reference"] == [
        {"filename": "ref.png", "content_type": "image/png", "bytes": len(png)}
    ]


@pytest.mark.parametrize(
    ("fields", "param"),
    [({"prompt": None}, "prompt"), ({"seconds": "forever"}, "seconds"), ({"size": "wide"}, "size")],
)
def test_invalid_creates(server: OfflineServer, fields: dict[str, Any], param: str) -> None:
    body = {key: value for key, value in {"prompt": "x", **fields}.items() if value is not None}
    reply = HTTP.post(f"{server.url}/videos", json=body, headers=AUTH)
    assert reply.status_code == 400 and reply.json()["error"]["param"] == param


def test_keys_and_unknown_ids(server: OfflineServer) -> None:
    assert HTTP.post(f"{server.url}/videos", files=[("prompt", (None, "x"))]).status_code == 401
    assert HTTP.get(f"{server.url}/videos").status_code == 401
    missing = get(server, "/video_missing")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "video_not_found"


def test_status_and_transport_faults_on_create(server: OfflineServer) -> None:
    assert create(server, model="fault-429").status_code == 429
    server.inject("502")
    assert create(server).status_code == 502
    before = len(get(server, "").json()["data"])
    with pytest.raises(httpx.TransportError):
        create(server, model="fault-reset")
    # The create reached the server before the connection broke: the job exists and runs.
    listing = get(server, "").json()["data"]
    assert len(listing) == before + 1 and listing[0]["model"] == "fault-reset"
    job_id = listing[0]["id"]
    assert get(server, f"/{job_id}").status_code == 200  # polls are never hit by faults
    server.inject("reset")
    assert get(server, f"/{job_id}").status_code == 200
    with pytest.raises(httpx.TransportError):
        create(server)


def test_a_fault_model_wins_over_a_bad_body(server: OfflineServer) -> None:
    reply = HTTP.post(f"{server.url}/videos", json={"model": "fault-429", "seconds": "forever"}, headers=AUTH)
    assert reply.status_code == 429
