"""The response cache through the magic: --cache, %config Haoee.cache, --refresh, %haoee cache."""

from __future__ import annotations

import json
from typing import Any

import pytest
from _haoee_shell import *  # noqa: F403  (the shell fixtures)
from _haoee_shell import FAKE_KEY, ask, line_magic, posts, publishes
from IPython.core.error import UsageError


def footer(captured: Any) -> str:
    return publishes(captured)[-1]["data"]["text/plain"].splitlines()[-1]


def test_an_identical_request_is_answered_from_the_cache_and_sends_nothing(ip: Any, offline_server: Any) -> None:
    first = ask(ip, "--cache -t 0.2", "Explain entropy")
    assert len(posts(offline_server)) == 1 and "cached" not in footer(first)
    answer, usage = ip.user_ns["haoee_response"].text, ip.user_ns["haoee_usage"]
    again = ask(ip, "--cache -t 0.2", "Explain entropy")
    assert len(posts(offline_server)) == 1, "a cache hit sends nothing"
    assert footer(again).endswith("cached: nothing sent]")
    assert ip.user_ns["haoee_response"].text == answer
    # A streamed answer from the cache appears at once: the wait line, then all of it.
    shown = publishes(again)
    assert len(shown) <= 2 and answer in shown[-1]["data"]["text/plain"]
    total = ip.user_ns["haoee_usage_total"]
    assert (total.calls, total.cached_calls, total.saved_tokens) == (2, 1, usage.total_tokens)
    assert total.total_tokens == usage.total_tokens, "no new tokens spent on the cached call"
    table = publishes(line_magic(ip, "usage"))[-1]["data"]["text/markdown"]
    assert "| cached |" in table and f"{usage.total_tokens:,} tokens saved (in parentheses)" in table
    # the cached row's tokens are in parentheses: the rows that count add up to the total row
    first_row, cached_row, total_row = [line for line in table.splitlines() if "Explain" in line or "**total**" in line]
    u = usage
    assert f"| {u.input_tokens:,} | {u.output_tokens:,} | {u.total_tokens:,} |" in first_row
    assert f"| ({u.input_tokens:,}) | ({u.output_tokens:,}) | ({u.total_tokens:,}) |" in cached_row
    assert f"| {u.input_tokens:,} | {u.output_tokens:,} | {u.total_tokens:,} |" in total_row


def test_any_difference_in_the_request_is_a_miss(ip: Any, offline_server: Any) -> None:
    ask(ip, "--cache", "Explain entropy")
    for line, cell in [
        ("--cache -t 0.5", "Explain entropy"),
        ("--cache -m qwen3-max", "Explain entropy"),
        ("--cache", "Explain enthalpy"),
        ("--cache -i 'Be brief.'", "Explain entropy"),
    ]:
        ask(ip, line, cell)
    assert len(posts(offline_server)) == 5
    ask(ip, "--cache --no-stream", "Explain entropy")  # streamed or not, the same answer
    assert len(posts(offline_server)) == 5


def test_the_setting_turns_it_on_for_the_session_and_it_is_off_by_default(ip: Any, offline_server: Any) -> None:
    ask(ip, "", "Hello")
    ask(ip, "", "Hello")
    assert len(posts(offline_server)) == 2
    ip.run_line_magic("config", "Haoee.cache = True")
    ask(ip, "", "Hello")  # the first call with the cache on stores its answer
    ask(ip, "", "Hello")
    assert len(posts(offline_server)) == 3
    ask(ip, "--no-cache", "Hello")
    assert len(posts(offline_server)) == 4


def test_refresh_asks_again_and_replaces_the_entry(ip: Any, http_server: Any) -> None:
    def answer(text: str) -> Any:
        body = {
            "id": f"resp_{text}",
            "status": "completed",
            "model": "gpt-4.1",
            "output": [{"type": "message", "content": [{"type": "output_text", "text": text}]}],
            "usage": {"input_tokens": 2, "output_tokens": 3, "total_tokens": 5},
        }
        return http_server.Reply(body=json.dumps(body).encode(), mode="length")

    http_server.add(answer("first"), answer("second"), answer("third"))
    ip.run_line_magic("config", f"Haoee.base_url = {http_server.url + '/v1'!r}")
    ask(ip, "--cache --no-stream", "Hi")
    assert ip.user_ns["haoee_response"].text == "first"
    ask(ip, "--refresh --no-stream", "Hi")
    assert ip.user_ns["haoee_response"].text == "second" and len(http_server.requests) == 2
    ask(ip, "--cache --no-stream", "Hi")
    assert ip.user_ns["haoee_response"].text == "second" and len(http_server.requests) == 2
    with pytest.raises(UsageError, match="--refresh asks again and replaces the cached answer"):
        ask(ip, "--refresh --no-cache", "Hi")
    # The cache was off all along (%config Haoee.cache): --refresh used it for its cell, as its help says.
    helptext = " ".join(ip.magics_manager.registry["Haoee"].haoee.__doc__.split())
    assert "replace the cached answer with the new one (this cell uses the cache even when it is off)" in helptext


def test_cache_shows_its_size_and_clear_empties_it(ip: Any, offline_server: Any, haoee_home: Any) -> None:
    shown = publishes(line_magic(ip, "cache"))[-1]["data"]["text/plain"]
    assert shown.startswith("Response cache: 0 answers, 0 bytes") and "off: --cache turns it on" in shown
    ask(ip, "--cache", "one")
    ask(ip, "--cache", "two")
    ip.run_line_magic("config", "Haoee.cache = True")
    shown = publishes(line_magic(ip, "cache"))[-1]["data"]["text/plain"]
    assert shown.startswith("Response cache: 2 answers, ") and " KB, at " in shown and "on for this session" in shown
    assert str(haoee_home / "cache.sqlite3") in shown
    cleared = line_magic(ip, "cache clear").stdout
    assert cleared.startswith("Cleared the response cache: 2 answers removed")
    ask(ip, "--cache", "one")
    assert len(posts(offline_server)) == 3, "after clear, the request is sent again"
    with pytest.raises(UsageError, match="usage: %haoee cache"):
        line_magic(ip, "cache flush")


def test_the_key_is_never_in_the_cache_file(ip: Any, offline_server: Any, haoee_home: Any) -> None:
    ask(ip, "--cache", "Keep this answer")
    ip.run_line_magic("config", "Haoee.api_key = 'sk-another-key-of-the-same-account-42'")
    ask(ip, "--cache", "Keep this answer")  # another key: the same answer, from the cache
    assert len(posts(offline_server)) == 1
    for path in haoee_home.iterdir():
        data = path.read_bytes()
        assert FAKE_KEY.encode() not in data and FAKE_KEY[4:-4].encode() not in data


def test_a_batch_and_a_comparison_use_it_too(ip: Any, offline_server: Any) -> None:
    ask(ip, "--cache --models gpt-4.1,qwen3-max", "Hello")
    captured = ask(ip, "--cache --models gpt-4.1,qwen3-max", "Hello")
    assert len(posts(offline_server)) == 2
    assert publishes(captured)[-1]["data"]["text/plain"].count("cached: nothing sent") == 2


def test_usage_in_plain_text_shows_a_prompt_as_written(ip: Any, offline_server: Any) -> None:
    ask(ip, "", 'Say "hi" & <bye>')
    shown = publishes(line_magic(ip, "usage"))[-1]["data"]
    assert '| Say "hi" & <bye> |' in shown["text/plain"] and "&quot;" not in shown["text/plain"]
    assert "| Say &quot;hi&quot; &amp; &lt;bye&gt; |" in shown["text/markdown"]
