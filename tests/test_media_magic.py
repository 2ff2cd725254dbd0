"""``%%haoee image``, ``%%haoee video`` and ``%haoee video ID`` in a real IPython shell, against the
offline demo server.

Each behaviour is checked where the user meets it: what the server received
(``offline_server.requests``), what the cell showed (the display publishes), the files in the
media folder, and the variables in the namespace.
"""

from __future__ import annotations

import base64
import io
import os
import re
import signal
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import CapturedIO, capture_output
from traitlets import TraitError

from haoee_jupyter import HaoeeError
from haoee_jupyter.notebook._session import Session

FAKE_KEY = "sk-haoeetest-M3d1aKeyZr4Vw8Nf3Jd"
DATE = r"\d{4}-\d{2}-\d{2}"


@pytest.fixture(scope="session")
def ip() -> InteractiveShell:
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "haoee_jupyter")
    return shell


@pytest.fixture
def magics(ip: InteractiveShell) -> Any:
    return ip.magics_manager.registry["Haoee"]


@pytest.fixture(autouse=True)
def clean_shell(
    ip: InteractiveShell, magics: Any, offline_server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Any:
    """Default settings pointed at the offline server, a new session, and the working directory
    (the notebook's folder in Jupyter) a fresh temporary folder."""
    for name in list(os.environ):
        if name.startswith("HAOEE_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HAOEE_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    for name, trait in type(magics).class_traits(config=True).items():
        setattr(magics, name, trait.default_value)
    ip.run_line_magic("config", f"Haoee.base_url = {offline_server.url!r}")
    ip.run_line_magic("config", f"Haoee.api_key = {FAKE_KEY!r}")
    ip.run_line_magic("config", "Haoee.max_retries = 0")
    magics.state.session = Session()
    magics.state.replace_clients()
    for name in ("haoee_response", "haoee_usage", "haoee_usage_total", "pic", "clip", "fox"):
        ip.user_ns.pop(name, None)
    before = set(ip.user_ns)
    offline_server.video_ms = 300
    yield
    offline_server.video_ms = None
    for name in set(ip.user_ns) - before:  # leave no variable for the next file's tests
        del ip.user_ns[name]
    for name, trait in type(magics).class_traits(config=True).items():
        setattr(magics, name, trait.default_value)


def cell(ip: InteractiveShell, line: str, text: str) -> CapturedIO:
    with capture_output() as captured:
        ip.run_cell_magic("haoee", line, text)
    return captured


def shown(captured: CapturedIO) -> list[dict[str, Any]]:
    """Every bundle the cell published, in order (in-place updates too)."""
    return [dict(output["data"]) for output in captured._outputs]


def requests(server: Any, method: str, path: str) -> list[dict[str, Any]]:
    return [r for r in server.requests if r["method"] == method and re.fullmatch(path, r["path"].split("?")[0])]


def png(width: int = 24, height: int = 16, color: str = "red") -> Any:
    from PIL import Image

    return Image.new("RGB", (width, height), color)


def png_bytes(**kwargs: Any) -> bytes:
    buffer = io.BytesIO()
    png(**kwargs).save(buffer, format="PNG")
    return buffer.getvalue()


def media_files(tmp_path: Path) -> list[str]:
    folder = tmp_path / "haoee-media"
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


# --- images ----------------------------------------------------------------------------------


def test_an_image_cell_generates_shows_saves_and_counts(
    ip: InteractiveShell, offline_server: Any, tmp_path: Path
) -> None:
    ip.user_ns["animal"] = "fox"
    captured = cell(ip, "image -m gpt-image-1 --no-stream --size 64x48 --quality low -o pic", "A red {animal} in snow")

    (sent,) = requests(offline_server, "POST", "/v1/images/generations")
    assert sent["body"] == {"prompt": "A red fox in snow", "model": "gpt-image-1", "size": "64x48", "quality": "low"}
    assert sent["headers"]["content-type"] == "application/json"
    result = ip.user_ns["haoee_response"]
    assert ip.user_ns["pic"] is result
    (image,) = result.images
    assert image.size == (64, 48) and image.mime_type == "image/png"
    # saved beside the notebook, named from the call
    (name,) = media_files(tmp_path)
    assert re.fullmatch(rf"{DATE}-a-red-fox-in-snow-1\.png", name)
    assert (tmp_path / "haoee-media" / name).read_bytes() == image.data
    assert image.path == (tmp_path / "haoee-media" / name).resolve()
    # shown inline: the image itself, and a text line naming its size and file
    final = shown(captured)[-1]
    assert base64.b64decode(final["image/png"]) == image.data
    assert "64x48 PNG" in final["text/plain"] and f"haoee-media/{name}" in final["text/plain"]
    # the usage counts like every call's
    assert result.usage.total_tokens > 0
    assert ip.user_ns["haoee_usage"] == result.usage
    total = ip.user_ns["haoee_usage_total"]
    assert (total.calls, total.total_tokens) == (1, result.usage.total_tokens)
    assert total.by_model["gpt-image-1"].output_tokens == result.usage.output_tokens


def test_a_url_answer_is_downloaded_at_once(ip: InteractiveShell, offline_server: Any, tmp_path: Path) -> None:
    # gpt-image-2 (the default image model) answers with a link, as on Haoee: the bytes are fetched
    # at once (the link expires), shown and saved.
    cell(ip, "image --size 32x32", "A lighthouse")
    (sent,) = requests(offline_server, "POST", "/v1/images/generations")
    assert sent["body"]["model"] == "gpt-image-2" and "stream" not in sent["body"]
    (download,) = requests(offline_server, "GET", r"/v1/files/images/.*\.png")
    (image,) = ip.user_ns["haoee_response"].images
    assert image.url and image.url.endswith(download["path"].rsplit("/", 1)[1])
    assert image.size == (32, 32)
    assert [p.read_bytes() for p in (tmp_path / "haoee-media").iterdir()] == [image.data]


def test_several_images_are_numbered_and_never_overwritten(ip: InteractiveShell, tmp_path: Path) -> None:
    captured = cell(ip, "image -n 2 --size 32x32", "Two cats")
    assert "<img" in shown(captured)[-1]["text/html"]  # several images: a row of them
    cell(ip, "image --size 32x32", "Two cats")
    names = media_files(tmp_path)
    assert [re.sub(DATE, "D", n) for n in names] == ["D-two-cats-1.png", "D-two-cats-2.png", "D-two-cats-3.png"]
    first_two = ip.user_ns["haoee_usage_total"]
    assert first_two.calls == 2


def test_partial_images_are_shown_as_they_arrive(ip: InteractiveShell, offline_server: Any) -> None:
    # gpt-image-1 streams by default; the partial images come before the final one.
    captured = cell(ip, "image -m gpt-image-1 --size 32x32", "A sunrise")
    (sent,) = requests(offline_server, "POST", "/v1/images/generations")
    assert sent["body"]["stream"] is True and sent["body"]["partial_images"] == 2
    bundles = shown(captured)
    partial = [b for b in bundles if "partial image" in b["text/plain"]]
    assert len(partial) == 2 and all("image/png" in b for b in partial)
    final = bundles[-1]
    assert base64.b64decode(final["image/png"]) == ip.user_ns["haoee_response"][0].data
    assert bundles.index(partial[-1]) < len(bundles) - 1


def test_stream_flag_is_honoured_both_ways(ip: InteractiveShell, offline_server: Any) -> None:
    cell(ip, "image -m gpt-image-1 --no-stream --size 32x32", "A moon")
    cell(ip, "image -m gpt-image-2 --stream --size 32x32", "A moon")
    first, second = (r["body"] for r in requests(offline_server, "POST", "/v1/images/generations"))
    assert "stream" not in first
    assert second["stream"] is True and second["model"] == "gpt-image-2"


def test_an_edit_of_a_file_goes_multipart_to_edits(ip: InteractiveShell, offline_server: Any, tmp_path: Path) -> None:
    (tmp_path / "cat.png").write_bytes(png_bytes(width=40, height=40))
    cell(ip, "image -m gpt-image-1 --no-stream --image cat.png --size 40x40", "Add a party hat")
    (sent,) = requests(offline_server, "POST", "/v1/images/edits")
    assert sent["headers"]["content-type"].startswith("multipart/form-data")
    assert sent["body"]["prompt"] == "Add a party hat"
    (upload,) = sent["body"]["image"]
    assert upload["filename"] == "cat.png" and upload["content_type"] == "image/png"
    assert upload["bytes"] == len(png_bytes(width=40, height=40))
    assert not requests(offline_server, "POST", "/v1/images/generations")
    assert ip.user_ns["haoee_response"][0].size == (40, 40)


def test_an_edit_of_a_pil_image_variable(ip: InteractiveShell, offline_server: Any) -> None:
    ip.user_ns["fox"] = png(width=20, height=30, color="orange")
    cell(ip, "image -m gpt-image-1 --no-stream --image fox --image fox", "Make it night")
    (sent,) = requests(offline_server, "POST", "/v1/images/edits")
    uploads = sent["body"]["image[]"]  # several images go as image[]
    assert [u["content_type"] for u in uploads] == ["image/png", "image/png"]
    assert {u["filename"] for u in uploads} == {"fox.png"}


def test_a_bad_image_reference_is_one_line_and_nothing_is_sent(ip: InteractiveShell, offline_server: Any) -> None:
    with pytest.raises(UsageError, match="--image nowhere.png: no such file, URL or variable"):
        cell(ip, "image --image nowhere.png", "Edit it")
    assert not offline_server.requests


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (
            "image --size 1024",
            r"^%%haoee image: --size must be WIDTHxHEIGHT \(e.g. 1024x1024\) or auto, not '1024' "
            r"\(%%haoee\? lists its options\)$",  # one short line, not the whole usage
        ),
        ("video --bogus", r"^%%haoee video: unrecognized arguments: --bogus \(%%haoee\? lists its options\)$"),
        ("image -n 11", "-n must be from 1 to 10, not 11"),
        ("image --quality ultra", "--quality must be one of low, medium, high"),
        ("image --temperature 1", "unrecognized arguments: --temperature 1"),
        ("video --remix video_1 --seconds 4", r"--remix takes only the prompt \(and -o\): leave out --seconds"),
        ("video --remix video_1 -m sora-2 --size 720x1280", r"leave out -m, --size$"),
    ],
)
def test_bad_options_are_refused_before_sending(
    ip: InteractiveShell, offline_server: Any, line: str, message: str
) -> None:
    with pytest.raises(UsageError, match=message):
        cell(ip, line, "A cat")
    assert not offline_server.requests


def test_an_empty_image_cell_says_where_the_prompt_goes(ip: InteractiveShell) -> None:
    with pytest.raises(UsageError, match="write the image prompt on the lines below %%haoee image"):
        cell(ip, "image", "\n  \n")


@pytest.mark.parametrize(
    ("model", "error"),
    [
        ("fault-failed", r"rejected by the safety system.*\[HTTP 400, moderation_blocked\]"),
        ("fault-429", r"HTTP 429"),
    ],
)
def test_image_errors_are_one_line_and_counted(ip: InteractiveShell, model: str, error: str) -> None:
    with pytest.raises(HaoeeError) as info:
        cell(ip, f"image -m {model} --no-stream", "A cat")
    assert re.search(error, str(info.value)) and "\n" not in str(info.value)
    assert ip.user_ns["haoee_response"] is None
    assert ip.user_ns["haoee_usage_total"].calls == 1


# --- video -----------------------------------------------------------------------------------


def test_a_video_cell_creates_follows_downloads_saves_and_plays(
    ip: InteractiveShell, offline_server: Any, tmp_path: Path
) -> None:
    captured = cell(ip, "video --seconds 4 --size 1280x720 -o clip", "A paper boat on a river")

    (create,) = requests(offline_server, "POST", "/v1/videos")
    assert create["headers"]["content-type"].startswith("multipart/form-data")
    assert create["body"] == {
        "prompt": "A paper boat on a river",
        "model": "sora-2",
        "seconds": "4",
        "size": "1280x720",
    }
    result = ip.user_ns["haoee_response"]
    assert ip.user_ns["clip"] is result
    assert requests(offline_server, "GET", rf"/v1/videos/{result.id}")  # polled
    assert requests(offline_server, "GET", rf"/v1/videos/{result.id}/content")
    (name,) = media_files(tmp_path)
    assert re.fullmatch(rf"{DATE}-a-paper-boat-on-a-river-1\.mp4", name)
    saved = (tmp_path / "haoee-media" / name).read_bytes()
    assert saved[4:8] == b"ftyp" and saved == result.data
    bundles = shown(captured)
    # a progress bar while it ran, naming the job
    progress = [b for b in bundles if "<progress" in b.get("text/html", "")]
    assert progress and all(result.id in b["text/plain"] for b in progress)
    # then the player, pointing at the saved file beside the notebook
    final = bundles[-1]
    assert f'<video controls preload="metadata" src="haoee-media/{name}"' in final["text/html"]
    assert result.id in final["text/plain"] and "4 s" in final["text/plain"]
    assert ip.user_ns["haoee_usage_total"].calls == 1


def _interrupt_at_first_poll(server: Any, seen: dict[str, Any]) -> threading.Thread:
    """A real SIGINT (Ctrl-C) once the server has been polled for the job; before it, what the
    call log holds then (what a lost kernel would leave) goes into ``seen``."""
    from haoee_jupyter.notebook._log import CallLog

    def watch() -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if requests(server, "GET", r"/v1/videos/video_[^/]+"):
                with CallLog() as log:
                    seen["log"] = log.search(5)
                os.kill(os.getpid(), signal.SIGINT)
                return
            time.sleep(0.01)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


def test_ctrl_c_keeps_the_job_and_video_id_resumes_it_without_a_second_create(
    ip: InteractiveShell, offline_server: Any, tmp_path: Path
) -> None:
    offline_server.video_ms = 600_000  # the job would run for ten minutes
    seen: dict[str, Any] = {}
    watcher = _interrupt_at_first_poll(offline_server, seen)
    with capture_output(), pytest.raises(KeyboardInterrupt) as info:
        ip.run_cell_magic("haoee", "video --seconds 4", "A slow sunset")
    watcher.join()
    job = ip.user_ns["haoee_response"]
    assert job.status in ("queued", "in_progress") and job.id.startswith("video_")
    line = str(info.value)
    assert f"the video job {job.id} goes on at the server" in line and f"%haoee video {job.id}" in line
    assert " ".join(part.strip() for part in info.value._render_traceback_()) == line  # folded at words
    assert ip.user_ns["haoee_usage_total"].calls == 1
    assert magics_status(ip) == "interrupted"
    # While it ran, the call log already held the job's id (a lost kernel leaves that); now it
    # says interrupted, in the same row.
    (running,) = seen["log"]
    assert (running.job_id, running.endpoint) == (job.id, "/videos") and running.status in ("queued", "in_progress")
    from haoee_jupyter.notebook._log import CallLog

    with CallLog() as log:
        (row,) = log.search(5)
    assert (row.id, row.job_id, row.status, row.prompt) == (running.id, job.id, "interrupted", "A slow sunset")

    offline_server.video_ms = 50  # meanwhile the server finished it
    with capture_output() as captured:
        outcome = ip.run_cell(f"%haoee video {job.id} -o clip", store_history=True)  # a cell of its own
    assert outcome.success and len(requests(offline_server, "POST", "/v1/videos")) == 1  # never created again
    with CallLog() as log:
        cells = [(entry.job_id, entry.cell) for entry in log.search(5)]
    assert (job.id, outcome.execution_count) in cells  # the log knows the cell that followed it
    result = ip.user_ns["haoee_response"]
    assert result.id == job.id and ip.user_ns["clip"] is result
    (name,) = media_files(tmp_path)
    assert re.fullmatch(rf"{DATE}-a-slow-sunset-1\.mp4", name)  # named from the job's own prompt
    assert "<video controls" in shown(captured)[-1]["text/html"]


def magics_status(ip: InteractiveShell) -> str:
    return ip.magics_manager.registry["Haoee"].state.session.calls[-1].status


def test_remix_of_a_finished_video(ip: InteractiveShell, offline_server: Any, tmp_path: Path) -> None:
    cell(ip, "video", "A fox running")
    original = ip.user_ns["haoee_response"].id
    cell(ip, f"video --remix {original}", "Make it snow")
    (remix,) = requests(offline_server, "POST", rf"/v1/videos/{original}/remix")
    assert remix["body"] == {"prompt": "Make it snow"}
    assert len(requests(offline_server, "POST", "/v1/videos")) == 1
    result = ip.user_ns["haoee_response"]
    assert result.id != original and result.video.remixed_from_video_id == original
    assert len(media_files(tmp_path)) == 2


def test_a_failed_job_shows_the_servers_reason_in_one_line(ip: InteractiveShell, tmp_path: Path) -> None:
    with capture_output() as captured, pytest.raises(HaoeeError) as info:
        ip.run_cell_magic("haoee", "video -m fault-failed", "A cat")
    job = ip.user_ns["haoee_response"]
    assert job.failed
    what = str(info.value)
    assert f"The video job {job.id} failed: The offline demo server failed this video job on purpose" in what
    assert "failed: The offline demo server failed" in shown(captured)[-1]["text/plain"]
    assert media_files(tmp_path) == []
    assert magics_status(ip) == "failed"


def test_video_id_of_an_unknown_job_is_one_line(ip: InteractiveShell, offline_server: Any) -> None:
    with capture_output(), pytest.raises(HaoeeError) as info:
        ip.run_line_magic("haoee", "video video_nope")
    assert "HTTP 404" in str(info.value)
    assert not requests(offline_server, "POST", "/v1/videos")


def test_a_reference_image_goes_with_the_create(ip: InteractiveShell, offline_server: Any) -> None:
    ip.user_ns["fox"] = png(width=1280, height=720)
    cell(ip, "video --size 1280x720 --image fox", "The fox wakes up")
    (create,) = requests(offline_server, "POST", "/v1/videos")
    (reference,) = create["body"]["input_reference"]
    assert reference["content_type"] == "image/png"


def test_help_and_usage_name_the_media_cells(ip: InteractiveShell) -> None:
    doc = ip.find_cell_magic("haoee").__doc__
    assert "%%haoee image [-m NAME] [--size WxH] [-n N]" in doc
    assert "%%haoee video [-m NAME] [--seconds N]" in doc and "--remix" in doc
    with capture_output() as captured:
        ip.run_line_magic("haoee", "help")
    assert "%%haoee image [options]" in captured.stdout and "%haoee video [-o NAME] ID" in captured.stdout


def test_media_settings(ip: InteractiveShell, magics: Any, offline_server: Any, tmp_path: Path) -> None:
    ip.run_line_magic("config", "Haoee.image_model = 'nano-banana-2'")
    ip.run_line_magic("config", f"Haoee.media_dir = {str(tmp_path / 'pictures')!r}")
    cell(ip, "image --size 32x32", "A kite")
    assert requests(offline_server, "POST", "/v1/images/generations")[0]["body"]["model"] == "nano-banana-2"
    assert len(list((tmp_path / "pictures").iterdir())) == 1
    with pytest.raises(TraitError, match="Haoee.video_model must be a model name, not empty"):
        magics.video_model = " "
    with pytest.raises(TraitError, match="Haoee.media_dir must be a folder, not empty"):
        magics.media_dir = ""


def test_video_id_of_a_failed_job_says_why_in_one_line(ip: InteractiveShell, offline_server: Any) -> None:
    with capture_output(), pytest.raises(HaoeeError):
        ip.run_cell_magic("haoee", "video -m fault-failed", "A cat")
    job_id = ip.user_ns["haoee_response"].id
    with capture_output(), pytest.raises(HaoeeError) as info:
        ip.run_line_magic("haoee", f"video {job_id}")
    assert str(info.value).startswith(f"The video job {job_id} failed: ")
    assert ip.user_ns["haoee_response"].failed
    assert len(requests(offline_server, "POST", "/v1/videos")) == 1


def test_no_log_keeps_a_media_call_out_of_the_call_log(ip: InteractiveShell) -> None:
    from haoee_jupyter.notebook._log import CallLog

    cell(ip, "image --size 32x32 --no-log", "A private sketch")
    cell(ip, "image --size 32x32", "A public sketch")
    with CallLog() as log:
        entries = log.search(5)
    assert [(e.endpoint, e.prompt, e.status) for e in entries] == [
        ("/images/generations", "A public sketch", "completed")
    ]
    assert entries[0].usage.total_tokens == ip.user_ns["haoee_usage"].total_tokens
