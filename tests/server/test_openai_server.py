"""`stagefence serve` against the official openai client on loopback, on the CPU with SmolLM2:
the same text as `generate`, stop and max_tokens, usage, the prompt cache, malformed requests,
the API key, and a bounded load test with a client that disconnects mid-stream."""
import http.client
import json
import sys
import threading
import time

import pytest

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[1]))
from stagefence_process import Server, run_cli, smollm2_path  # noqa: E402

openai = pytest.importorskip("openai")

QUESTION = "What is the capital of France?"


@pytest.fixture(scope="module")
def server():
    s = Server("--parallel", "2")
    yield s
    assert s.stop() == 0, "serve exits 0 on SIGTERM"


def client(server, **kw):
    return openai.OpenAI(base_url=server.url + "/v1", api_key=kw.pop("api_key", "unused"),
                         max_retries=0, timeout=120, **kw)


def generate_json(*args):
    r = run_cli("generate", "--model", smollm2_path(), "--json", *args)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_chat_completion_matches_generate_streamed_or_not(server):
    doc = generate_json("--chat", "-p", QUESTION, "-n", "12", "-t", "0.8", "-s", "7")
    ref = doc["runs"][0]
    c = client(server)
    model = c.models.list().data[0].id
    # The first request meets an empty cache; the streamed one opts out of it, so both prefill
    # exactly as generate does.
    done = c.chat.completions.create(model=model, messages=[{"role": "user", "content": QUESTION}],
                                     max_tokens=12, temperature=0.8, seed=7)
    assert done.choices[0].message.content == ref["text"]
    parts, finish = [], None
    for chunk in c.chat.completions.create(model=model, stream=True, max_tokens=12,
                                           temperature=0.8, seed=7,
                                           messages=[{"role": "user", "content": QUESTION}],
                                           extra_body={"cache_prompt": False}):
        if chunk.choices:
            parts.append(chunk.choices[0].delta.content or "")
            finish = chunk.choices[0].finish_reason or finish
    assert "".join(parts) == ref["text"]
    assert finish == ("stop" if ref["end_of_generation"] else "length")
    u = done.usage
    assert u.prompt_tokens == len(doc["prompt"])
    assert u.completion_tokens == len(ref["tokens"])
    assert u.total_tokens == u.prompt_tokens + u.completion_tokens


def test_max_tokens_and_stop_are_honoured(server):
    c = client(server)
    r = c.completions.create(model="SmolLM2-135M-Instruct.Q4_1.gguf", prompt="1, 2, 3, 4,",
                             max_tokens=3, temperature=0)
    assert r.choices[0].finish_reason == "length"
    assert r.usage.completion_tokens == 3
    r = c.chat.completions.create(model="SmolLM2-135M-Instruct.Q4_1.gguf", temperature=0,
                                  messages=[{"role": "user", "content": QUESTION}],
                                  max_tokens=16, stop=["Paris"])
    assert r.choices[0].finish_reason == "stop"
    assert "Paris" not in r.choices[0].message.content
    assert r.choices[0].message.content.startswith("The capital of France is")


def test_second_turn_reports_cached_prompt_tokens(server):
    c = client(server)
    model = "SmolLM2-135M-Instruct.Q4_1.gguf"
    messages = [{"role": "user", "content": "Name a colour."}]
    first = c.chat.completions.create(model=model, messages=messages, max_tokens=8, temperature=0)
    messages += [{"role": "assistant", "content": first.choices[0].message.content},
                 {"role": "user", "content": "Name another one."}]
    second = c.chat.completions.create(model=model, messages=messages, max_tokens=8,
                                       temperature=0)
    cached = second.usage.prompt_tokens_details.cached_tokens
    assert cached >= first.usage.prompt_tokens, (first.usage, second.usage)
    assert cached < second.usage.prompt_tokens
    assert second.usage.total_tokens == second.usage.prompt_tokens + second.usage.completion_tokens


BAD_REQUESTS = [
    ("malformed JSON", "/v1/chat/completions", '{"messages": [', 400, "invalid_json"),
    ("not an object", "/v1/chat/completions", "[1, 2]", 400, "invalid_type"),
    ("messages wrong type", "/v1/chat/completions", {"messages": "hi"}, 400, "invalid_type"),
    ("no messages", "/v1/chat/completions", {"model": "x"}, 400, "missing_field"),
    ("unknown role", "/v1/chat/completions", {"messages": [{"role": "tool", "content": "x"}]}, 400,
     "invalid_value"),
    ("unknown model", "/v1/chat/completions",
     {"model": "gpt-9", "messages": [{"role": "user", "content": "hi"}]}, 404, "model_not_found"),
    ("max_tokens 0", "/v1/completions", {"prompt": "hi", "max_tokens": 0}, 400, "invalid_value"),
    ("max_tokens negative", "/v1/completions", {"prompt": "hi", "max_tokens": -3}, 400,
     "invalid_value"),
    ("max_tokens string", "/v1/completions", {"prompt": "hi", "max_tokens": "5"}, 400,
     "invalid_type"),
    ("temperature negative", "/v1/completions", {"prompt": "hi", "temperature": -1}, 400,
     "invalid_value"),
    ("top_p above 1", "/v1/completions", {"prompt": "hi", "top_p": 2}, 400, "invalid_value"),
    ("top_p zero", "/v1/completions", {"prompt": "hi", "top_p": 0}, 400, "invalid_value"),
    ("top_k negative", "/v1/completions", {"prompt": "hi", "top_k": -1}, 400, "invalid_value"),
    ("stream not bool", "/v1/completions", {"prompt": "hi", "stream": "yes"}, 400, "invalid_type"),
    ("n above 1", "/v1/completions", {"prompt": "hi", "n": 2}, 400, "invalid_value"),
    ("prompt longer than the context", "/v1/completions", {"prompt": "hello " * 2500}, 400,
     "context_length_exceeded"),
    ("prompt and max_tokens beyond the context", "/v1/completions",
     {"prompt": "hi", "max_tokens": 4000}, 400, "context_length_exceeded"),
]


@pytest.mark.parametrize("what,path,body,status,code", BAD_REQUESTS, ids=[b[0] for b in BAD_REQUESTS])
def test_bad_request_gets_an_openai_error_and_the_server_keeps_serving(server, what, path, body,
                                                                       status, code):
    got, doc = server.post(path, body)
    assert got == status, doc
    err = doc["error"]
    assert set(err) == {"message", "type", "param", "code"}
    assert err["code"] == code and err["message"]
    ok, good = server.post("/v1/completions", {"prompt": "1, 2,", "max_tokens": 1})
    assert ok == 200 and good["usage"]["completion_tokens"] == 1


def test_unknown_route_and_wrong_method_are_json_errors(server):
    got, doc = server.post("/v1/nothing", {})
    assert got == 404 and doc["error"]["type"] == "not_found_error"


def test_api_key_is_required_when_set():
    s = Server("--api-key", "s3cret")
    try:
        got, doc = s.post("/v1/completions", {"prompt": "hi", "max_tokens": 1})
        assert got == 401 and doc["error"]["type"] == "authentication_error"
        got, _ = s.post("/v1/completions", {"prompt": "hi", "max_tokens": 1},
                        headers={"Authorization": "Bearer wrong"})
        assert got == 401
        r = client(s, api_key="s3cret").completions.create(model="SmolLM2-135M-Instruct.Q4_1.gguf",
                                                            prompt="hi", max_tokens=1)
        assert r.usage.completion_tokens == 1
    finally:
        s.stop()


def stream_completion(port, body, read_chunks=None):
    """Streams a completion over a raw connection; returns (finish_reason, usage, chunks). With
    read_chunks, closes the connection after that many events instead."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    conn.request("POST", "/v1/completions", json.dumps(body), {"Content-Type": "application/json"})
    resp = conn.getresponse()
    assert resp.status == 200
    finish, usage, chunks = None, None, 0
    buf = b""
    while True:
        line = resp.readline()
        if not line:
            break
        line = line.strip()
        if not line.startswith(b"data: "):
            continue
        data = line[6:]
        if data == b"[DONE]":
            break
        doc = json.loads(data)
        chunks += 1
        if doc.get("usage"):
            usage = doc["usage"]
        for ch in doc.get("choices", []):
            finish = ch.get("finish_reason") or finish
        if read_chunks is not None and chunks >= read_chunks:
            conn.sock.close()
            return None, None, chunks
    conn.close()
    return finish, usage, chunks


def test_32_concurrent_streams_all_finish_and_a_disconnect_frees_its_slot():
    s = Server("--parallel", "4")
    try:
        baseline = s.wait_idle()["runtime"]
        results, errors = [None] * 32, []
        started = time.monotonic()

        def one(i):
            try:
                results[i] = stream_completion(s.port, {
                    "prompt": f"{i}, {i + 1}, {i + 2},", "max_tokens": 4, "temperature": 0,
                    "stream": True, "stream_options": {"include_usage": True}})
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(f"client {i}: {e!r}")

        threads = [threading.Thread(target=one, args=(i,)) for i in range(32)]
        for t in threads:
            t.start()
        # One more client goes away after its first chunks of a long answer.
        gone = stream_completion(s.port, {"prompt": "Once upon a time", "max_tokens": 400,
                                          "stream": True}, read_chunks=3)
        assert gone[2] == 3
        for t in threads:
            t.join(timeout=240)
        assert not errors, errors
        assert all(not t.is_alive() for t in threads), "a client starved"
        for i, (finish, usage, _) in enumerate(results):
            assert finish == "length", (i, finish)
            assert usage["completion_tokens"] == 4, (i, usage)
        assert time.monotonic() - started < 240
        after = s.wait_idle()
        assert after["scheduler"]["cancelled"] >= 1, after
        assert after["scheduler"]["completed"] >= 32
        # The queue thread lets go of a finished buffer just after its waiter wakes: allow a
        # moment for the gauges to settle, no more.
        gauges = ("live_command_buffers", "live_fences", "pool_bytes_in_use")
        deadline = time.monotonic() + 5
        while any(after["runtime"][g] != baseline[g] for g in gauges) and time.monotonic() < deadline:
            time.sleep(0.05)
            after = s.health()
        for gauge in gauges:
            assert after["runtime"][gauge] == baseline[gauge], (gauge, baseline, after["runtime"])
    finally:
        assert s.stop() == 0


def test_sigterm_during_a_stream_stops_the_server_promptly():
    s = Server()
    result = {}

    def long_stream():
        try:
            result["r"] = stream_completion(s.port, {"prompt": "Once upon a time",
                                                     "max_tokens": 1500, "stream": True})
        except Exception as e:  # noqa: BLE001 - the connection may simply close
            result["r"] = e

    t = threading.Thread(target=long_stream)
    t.start()
    deadline = time.monotonic() + 30
    while s.health()["scheduler"]["busy"] == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    started = time.monotonic()
    s.proc.terminate()
    s.proc.wait(timeout=30)
    assert s.proc.returncode == 0
    assert time.monotonic() - started < 15
    t.join(timeout=30)
    assert not t.is_alive()


def test_a_non_streaming_client_that_leaves_is_cancelled(server):
    before = server.wait_idle()["scheduler"]["cancelled"]
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    conn.request("POST", "/v1/completions",
                 json.dumps({"prompt": "Once upon a time", "max_tokens": 1500}),
                 {"Content-Type": "application/json"})
    deadline = time.monotonic() + 30
    while server.health()["scheduler"]["busy"] == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    conn.sock.close()
    after = server.wait_idle(timeout=15)
    assert after["scheduler"]["cancelled"] == before + 1
