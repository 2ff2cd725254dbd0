"""%%haoee --over NAME in a real IPython shell against the offline server: what goes out for
each row, what comes back in which shape, progress, failures in their place, Ctrl-C, resuming,
the cache and the call log."""

from __future__ import annotations

import _thread
import re
import threading
from typing import Any

import pandas as pd
import pytest
from _haoee_shell import *  # noqa: F403  (the shell fixtures)
from _haoee_shell import ask, line_magic, posts, publishes, wait_for, wait_for_threads
from IPython.core.error import UsageError

from haoee_jupyter.notebook._batch import BatchInterrupted
from haoee_jupyter.notebook._rows import RowError

BOOKS = {"title": ["Dune", "Emma", "Ulysses"], "year": [1965, 1815, 1922]}


def prompts(server: Any) -> list[str]:
    return sorted(str(body["input"]) for body in posts(server))


def test_a_dataframe_in_gives_a_copy_with_an_answer_column(ip: Any, offline_server: Any) -> None:
    books = ip.user_ns["books"] = pd.DataFrame(BOOKS, index=["a", "b", "c"])
    captured = ask(ip, "--over books -o out", "About {title} ({row.year}), row {index}: {item}")
    assert prompts(offline_server) == [
        "About Dune (1965), row a: title: Dune, year: 1965",
        "About Emma (1815), row b: title: Emma, year: 1815",
        "About Ulysses (1922), row c: title: Ulysses, year: 1922",
    ]
    out = ip.user_ns["out"]
    assert isinstance(out, pd.DataFrame) and out is not books and list(books.columns) == ["title", "year"]
    assert list(out.columns) == ["title", "year", "answer"] and list(out.index) == ["a", "b", "c"]
    for title, answer in zip(out["title"], out["answer"]):  # each answer in its own row
        assert f"> About {title} (" in answer
    assert ip.user_ns["haoee_results"] is out
    summary = publishes(captured)[-1]["data"]
    assert summary["text/markdown"].startswith("**Batch over books: 3 rows**")
    assert "3 done · 0 failed" in summary["text/plain"] and "3 requests" in summary["text/plain"]
    assert "| Dune | 1965 |" in summary["text/markdown"]  # the first rows of the result
    # each answer as a plain-text preview of its first line: no Markdown markers inside the table
    assert "| a | Dune | 1965 | Offline demo answer |" in summary["text/markdown"]
    assert "The result is in out (a DataFrame with column answer)." in summary["text/plain"]


def test_a_list_and_a_series_give_lists_in_input_order(ip: Any, offline_server: Any) -> None:
    ip.user_ns["topics"] = [f"topic {n}" for n in range(12)]
    ask(ip, "--over topics -o out --concurrency 4", "Explain {item} (#{index})")
    out = ip.user_ns["out"]
    assert isinstance(out, list) and len(out) == 12
    assert all(f"> Explain topic {n} (#{n})" in answer for n, answer in enumerate(out))
    ip.user_ns["series"] = pd.Series(["red", "green"], index=[10, 20])
    ask(ip, "--over series -o colours", "Name {item} at {index}")
    assert ["> Name red at 10" in ip.user_ns["colours"][0], "> Name green at 20" in ip.user_ns["colours"][1]] == [
        True,
        True,
    ]


def test_progress_is_shown_then_replaced_by_the_summary(ip: Any, offline_server: Any) -> None:
    offline_server.latency_ms = 100  # one at a time: at least 0.8 s, some updates at 4 a second
    ip.user_ns["items"] = list(range(8))
    captured = ask(ip, "--over items --concurrency 1", "Say {item}")
    shown = publishes(captured)
    first, last = shown[0], shown[-1]
    assert first["data"]["text/plain"].startswith("0/8 finished") and "<div" in first["data"]["text/html"]
    updates = [p for p in shown[1:-1] if "rows/s" in p["data"]["text/plain"]]
    assert updates and all(p.get("update") for p in shown[1:])  # one output, updated in place
    assert last["data"]["text/plain"].startswith("Batch over items: 8 rows")
    assert "tokens" in first["data"]["text/plain"]


def test_progress_counts_failed_rows_as_the_summary_does(ip: Any, offline_server: Any) -> None:
    offline_server.latency_ms = 100  # one at a time: the bar is shown after the first row failed
    offline_server.inject("500")
    ip.user_ns["items"] = list(range(4))
    shown = publishes(ask(ip, "--over items --concurrency 1", "Say {item}"))
    bars = [p["data"]["text/plain"] for p in shown[:-1] if "failed" in p["data"]["text/plain"]]
    assert bars and all(re.match(r"[1-4]/4 finished · [0-3] done · 1 failed · ", bar) for bar in bars), bars
    assert "3 done · 1 failed" in shown[-1]["data"]["text/plain"]


def test_every_other_option_applies_to_each_row(ip: Any, offline_server: Any) -> None:
    ip.user_ns["words"] = ["alpha", "beta"]
    ask(ip, "--over words -m qwen3-max -i 'Answer about {item}.' -t 0.3 --web --max-tokens 300", "Define {item}")
    bodies = sorted(posts(offline_server), key=lambda b: b["input"])
    assert [(b["model"], b["instructions"], b["temperature"], b["max_output_tokens"]) for b in bodies] == [
        ("qwen3-max", "Answer about alpha.", 0.3, 300),
        ("qwen3-max", "Answer about beta.", 0.3, 300),
    ]
    assert all(b["tools"] == [{"type": "web_search"}] and not b.get("stream") for b in bodies)


def test_a_schema_gives_one_column_per_field(ip: Any, offline_server: Any) -> None:
    ip.user_ns["books"] = pd.DataFrame(BOOKS)
    ip.user_ns["Review"] = {
        "type": "object",
        "properties": {"stars": {"type": "integer"}, "verdict": {"type": "string"}},
        "required": ["stars", "verdict"],
        "additionalProperties": False,
    }
    ask(ip, "--over books --schema Review -o out", "Review {title}")
    out = ip.user_ns["out"]
    assert list(out.columns) == ["title", "year", "stars", "verdict"]
    assert all(isinstance(s, int) for s in out["stars"]) and all(isinstance(v, str) for v in out["verdict"])
    assert all(b["text"]["format"]["type"] == "json_schema" for b in posts(offline_server))


def test_a_failure_stays_in_its_place_and_retry_failed_sends_only_it(ip: Any, offline_server: Any) -> None:
    ip.user_ns["items"] = ["one", "two", "three", "four"]
    offline_server.inject("500")  # the first request fails; with one at a time, that is row 0
    captured = ask(ip, "--over items -o out --concurrency 1", "Say {item}")
    out = ip.user_ns["out"]
    assert isinstance(out[0], RowError) and all(isinstance(answer, str) for answer in out[1:])
    assert str(out[0]).startswith("error: ") and "\n" not in str(out[0]) and repr(out[0]) == str(out[0])
    summary = publishes(captured)[-1]["data"]["text/plain"]
    assert "3 done · 1 failed" in summary and "Failed: row 0: " in summary and "--retry-failed" in summary
    before = len(posts(offline_server))
    ask(ip, "--over items -o out --retry-failed", "Say {item}")
    assert [b["input"] for b in posts(offline_server)[before:]] == ["Say one"]
    assert all(isinstance(answer, str) for answer in ip.user_ns["out"]) and "> Say one" in ip.user_ns["out"][0]


def test_retry_failed_with_nothing_failed_sends_nothing_and_keeps_haoee_response(ip: Any, offline_server: Any) -> None:
    ip.user_ns["items"] = ["one", "two"]
    ask(ip, "--over items -o out", "Say {item}")
    response, usage, answers = ip.user_ns["haoee_response"], ip.user_ns["haoee_usage"], list(ip.user_ns["out"])
    before = len(posts(offline_server))
    captured = ask(ip, "--over items -o out --retry-failed", "Say {item}")
    assert len(posts(offline_server)) == before
    assert publishes(captured)[-1]["data"]["text/plain"] == (
        "Nothing to retry: all 2 answers of out are there; nothing was sent."
    )
    assert ip.user_ns["haoee_response"] is response and ip.user_ns["haoee_usage"] is usage
    assert ip.user_ns["out"] == answers


def test_retry_failed_in_a_dataframe_keeps_the_answers_it_has(ip: Any, offline_server: Any) -> None:
    ip.user_ns["books"] = pd.DataFrame(BOOKS)
    ask(ip, "--over books -o out --column summary", "About {title}")
    out = ip.user_ns["out"]
    kept = out["summary"][1]
    out.loc[0, "summary"] = None  # as if it never ran
    before = len(posts(offline_server))
    ask(ip, "--over books -o out --column summary --retry-failed", "About {title}")
    assert [b["input"] for b in posts(offline_server)[before:]] == ["About Dune"]
    assert ip.user_ns["out"]["summary"][1] == kept and "> About Dune" in ip.user_ns["out"]["summary"][0]


def test_several_models_give_one_column_each(ip: Any, offline_server: Any) -> None:
    ip.user_ns["books"] = pd.DataFrame(BOOKS)
    ask(ip, "--over books -o out --models gpt-4.1,qwen3-max", "About {title}")
    out = ip.user_ns["out"]
    assert list(out.columns) == ["title", "year", "gpt-4.1", "qwen3-max"]
    assert all("`qwen3-max`" in answer for answer in out["qwen3-max"])
    assert sorted(b["model"] for b in posts(offline_server)) == ["gpt-4.1"] * 3 + ["qwen3-max"] * 3
    ip.user_ns["topics"] = ["a", "b"]
    ask(ip, "--over topics -o pairs -m gpt-4.1 -m qwen3-max", "About {item}")
    assert [sorted(pair) for pair in ip.user_ns["pairs"]] == [["gpt-4.1", "qwen3-max"]] * 2


def test_usage_counts_every_row(ip: Any, offline_server: Any) -> None:
    ip.user_ns["items"] = list(range(5))
    ask(ip, "--over items", "Say {item}")
    total, usage = ip.user_ns["haoee_usage_total"], ip.user_ns["haoee_usage"]
    assert total.calls == 5 and total.total_tokens == usage.total_tokens > 0
    table = publishes(line_magic(ip, "usage"))[-1]["data"]["text/markdown"]
    assert table.count("| batch | Say ") == 5 and "| 5 calls |" in table  # each row is one of the session's calls
    assert ip.user_ns["haoee_response"] is not None


def test_ctrl_c_keeps_every_finished_row_and_the_next_run_sends_only_the_rest(
    ip: Any, offline_server: Any, state: Any
) -> None:
    offline_server.latency_ms = 60  # about 60 ms a row; 40 rows two at a time take over a second
    ip.user_ns["items"] = [f"item {n}" for n in range(40)]
    fired = threading.Event()

    def interrupt_after_some_rows() -> None:
        wait_for(lambda: len(state.session.calls) >= 3)  # three rows are in their place
        fired.set()
        _thread.interrupt_main()

    threading.Thread(target=interrupt_after_some_rows, daemon=True).start()
    with pytest.raises(KeyboardInterrupt) as info:
        ask(ip, "--over items -o out --concurrency 2", "Say {item}")
    assert fired.is_set() and isinstance(info.value, BatchInterrupted)
    [line] = info.value._render_traceback_()
    assert line.startswith("Interrupted: ") and "kept in out" in line
    out = ip.user_ns["out"]
    finished = [answer for answer in out if answer is not None]
    assert 1 <= len(finished) < 40 and all(isinstance(answer, str) for answer in finished)
    assert all(f"> Say item {n}" in answer for n, answer in enumerate(out) if answer is not None)
    wait_for_threads()  # the rows in flight finish in their threads and are logged
    ask(ip, "--over items -o out --concurrency 8", "Say {item}")
    sent = [b["input"] for b in posts(offline_server)]
    assert sorted(sent) == sorted(f"Say item {n}" for n in range(40)), "each row sent exactly once in all"
    assert all(f"> Say item {n}" in answer for n, answer in enumerate(ip.user_ns["out"]))


def test_a_kernel_restart_resumes_from_the_call_log(ip: Any, offline_server: Any) -> None:
    offline_server.latency_ms = 60
    ip.user_ns["items"] = [f"item {n}" for n in range(30)]
    threading.Thread(
        target=lambda: (wait_for(lambda: len(posts(offline_server)) >= 4), _thread.interrupt_main()), daemon=True
    ).start()
    with pytest.raises(KeyboardInterrupt):
        ask(ip, "--over items -o out --concurrency 2", "Say {item}")
    wait_for_threads()
    done_before = len(posts(offline_server))
    ip.run_line_magic("unload_ext", "haoee_jupyter")  # nothing of the session is left in memory
    ip.run_line_magic("load_ext", "haoee_jupyter")
    ip.run_line_magic("config", f"Haoee.base_url = {offline_server.url!r}")
    ip.run_line_magic("config", "Haoee.api_key = 'sk-another-key-0123456789'")
    captured = ask(ip, "--over items -o out --concurrency 8", "Say {item}")
    assert len(posts(offline_server)) == 30 and sorted(b["input"] for b in posts(offline_server)) == sorted(
        f"Say item {n}" for n in range(30)
    )
    assert f"{done_before:,} from the call log" in publishes(captured)[-1]["data"]["text/plain"]
    ask(ip, "--over items -o again", "Say {item}")  # that run finished: the next one is new
    assert len(posts(offline_server)) == 60


def test_with_the_cache_a_second_run_sends_nothing(ip: Any, offline_server: Any) -> None:
    ip.user_ns["items"] = ["x", "y", "z"]
    ask(ip, "--over items -o first --cache", "Say {item}")
    assert len(posts(offline_server)) == 3
    captured = ask(ip, "--over items -o second --cache", "Say {item}")
    assert len(posts(offline_server)) == 3
    assert ip.user_ns["first"] == ip.user_ns["second"]
    assert "3 from the cache" in publishes(captured)[-1]["data"]["text/plain"]
    total = ip.user_ns["haoee_usage_total"]
    assert total.cached_calls == 3 and total.saved_tokens > 0 and total.calls == 6


def test_each_row_is_logged_and_concurrent_writes_lose_none(ip: Any, offline_server: Any, state: Any) -> None:
    ip.user_ns["items"] = list(range(150))
    ask(ip, "--over items -o out --concurrency 24", "Say {item}")
    entries = state.call_log.search(None)
    assert len(entries) == 150 and {e.source for e in entries} == {"batch"}
    assert len({e.batch_id for e in entries}) == 1 and sorted(e.batch_row for e in entries) == list(range(150))
    assert sorted(e.prompt for e in entries) == sorted(f"Say {n}" for n in range(150))
    assert all(e.status == "completed" and e.text and e.usage.total_tokens for e in entries)


def test_flags_that_do_nothing_here_are_refused_and_nothing_is_sent(ip: Any, offline_server: Any) -> None:
    ip.user_ns["text"] = "not a list"
    ip.user_ns["table"] = {"a": 1}
    cases = {
        "--column out": "--column works with --over",
        "--retry-failed": "--retry-failed works with --over",
        "--concurrency 4": "--concurrency works with --over NAME or --models",
        "--over missing": "--over missing: no variable of that name",
        "--over text": "--over text: a str is one text",
        "--over table": "--over table: a dict is not a list",
        "--over text --chat c": "--chat cannot go with --over",
        "--refresh --no-cache": "--refresh asks again",
        "--over text --stream": "--stream cannot go with --over",
    }
    for line, message in cases.items():
        with pytest.raises(UsageError, match=message):
            ask(ip, line, "Say {item}")
    ip.user_ns["items"] = [1]
    with pytest.raises(UsageError, match="--retry-failed: no earlier result in out"):
        ask(ip, "--over items -o out --retry-failed", "Say {item}")
    with pytest.raises(UsageError, match=r"Row 0: \{nope\} refers to 'nope'"):
        ask(ip, "--over items", "Say {nope}")
    assert posts(offline_server) == []


def test_answers_never_overwrite_a_column_of_the_dataframe(ip: Any, offline_server: Any) -> None:
    ip.user_ns["books"] = pd.DataFrame(BOOKS)
    ip.user_ns["noted"] = pd.DataFrame({"title": ["Dune"], "answer": ["mine"]})
    ip.user_ns["Review"] = {"type": "object", "properties": {"year": {"type": "integer"}}, "required": ["year"]}
    cases = {
        ("books", "--column title"): "--over books: the answers would overwrite its column 'title'; pass --column NAME",
        ("noted", ""): "--over noted: the answers would overwrite its column 'answer'; pass --column NAME",
        ("books", "--schema Review"): "--over books: the --schema field 'year' would overwrite its column 'year'",
    }
    for (name, flags), message in cases.items():
        with pytest.raises(UsageError, match=message):
            ask(ip, f"--over {name} -o out {flags}", "About {title}")
    assert posts(offline_server) == [] and "out" not in ip.user_ns
    assert list(ip.user_ns["noted"]["answer"]) == ["mine"]
    message = (
        r"^Row 0: \{nosuchcol\} refers to 'nosuchcol', which is not a column of books \(its columns: title, year\)"
    )
    with pytest.raises(UsageError, match=message):
        ask(ip, "--over books", "About {nosuchcol}")
    assert posts(offline_server) == []
    ask(ip, "--over noted -o out --column reply", "About {title}")  # what the message says works
    assert list(ip.user_ns["out"].columns) == ["title", "answer", "reply"]


def test_dry_run_shows_the_first_rows_request(ip: Any, offline_server: Any) -> None:
    ip.user_ns["items"] = ["first", "second"]
    captured = ask(ip, "--over items --dry-run", "Say {item}")
    shown = publishes(captured)[-1]["data"]["text/plain"]
    assert '"input": "Say first"' in shown and "the first of 2: one per row" in shown
    assert posts(offline_server) == []


def test_each_row_can_attach_its_own_image(ip: Any, offline_server: Any, tmp_path: Any) -> None:
    import base64

    paths = []
    for name in ("red", "blue"):
        path = tmp_path / f"{name}.gif"
        path.write_bytes(b"GIF89a" + name.encode())  # an image by its content
        paths.append(str(path))
    ip.user_ns["pictures"] = pd.DataFrame({"name": ["red", "blue"], "picture": paths})
    ask(ip, "--over pictures --image picture -o out", "Describe {name}")
    sent = {}
    for body in posts(offline_server):
        [message] = body["input"]
        text, image = message["content"]
        sent[text["text"]] = base64.b64decode(image["image_url"].split(",", 1)[1])
    assert sent == {"Describe red": b"GIF89ared", "Describe blue": b"GIF89ablue"}
    assert all("1 images received" in answer or "1 image" in answer for answer in ip.user_ns["out"]["answer"])
