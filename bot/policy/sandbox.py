"""Bounded-time evaluation: a child process that holds the compiled policy and can be killed.

regorus holds the GIL for the whole of an evaluation, so no thread, signal or timer in this process
can interrupt a runaway rule (a Cartesian product in an overlay, say). The only hard bound is a
separate process: the parent writes the input document to the child's stdin and waits at most
`timeout_s` for the answer line; on a timeout it kills the child (a fresh one starts on the next call)
and the caller turns the timeout into a denial. The child compiles the policy once and clones the
compiled engine for every evaluation, as the in-process path does. A round trip costs ~0.1 ms.

The child is `python -m bot.policy.sandbox`, not a multiprocessing child: multiprocessing's spawn
re-imports the parent's `__main__`, which re-runs any script that calls the engine at top level.
Protocol: one JSON line in (first the compiled policy, then one input document per line), one JSON
line out per line in: `["ready"]`, `["ok", result]` or `["err", message]`. The input line is the
parent's only serialisation of the document and the result goes back as the engine wrote it: the
child parses neither (regorus parses the input itself).
"""

from __future__ import annotations

import json
import os
import selectors
import subprocess
import sys
import threading
import time
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

#: how long a fresh child may take to import regorus and compile the policy
START_TIMEOUT_S = 30.0
#: the only environment variables the evaluator process inherits
_KEEP_ENV = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TMPDIR", "SYSTEMROOT", "VIRTUAL_ENV")


class SandboxTimeout(RuntimeError):
    """The evaluation did not finish in time; the child was killed."""


class SandboxError(RuntimeError):
    """The child reported an engine error (message already cleaned) or died."""


@dataclass(frozen=True)
class CompiledPolicy:
    """Everything a child needs to rebuild the engine: sources, data documents and the query."""

    sources: tuple[tuple[str, str], ...]
    data: tuple[str, ...]  # JSON documents for add_data_json
    query: str


def _child_main() -> int:  # pragma: no cover - runs in the child process
    """Compile once, then answer one query per input line until stdin closes."""
    from bot.policy.engine import RegoEngine, clean_error, prepare

    out = sys.stdout

    def send(*msg: Any) -> None:
        out.write(json.dumps(list(msg)) + "\n")
        out.flush()

    first = sys.stdin.readline()
    try:
        spec = json.loads(first)
        base = RegoEngine.build([tuple(s) for s in spec["sources"]], data=spec["data"])
        query = spec["query"]
        prepare(base, query)
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which fails closed
        send("err", clean_error(exc))
        return 1
    send("ready")
    for line in sys.stdin:
        try:
            engine = base.clone()
            engine.set_input_json(line)
            raw = engine.query_json(query)
        except Exception as exc:  # noqa: BLE001 - any engine failure is reported, never swallowed
            send("err", clean_error(exc))
            continue
        # The engine's JSON is pretty-printed; a newline inside a JSON string is always escaped, so
        # dropping the raw ones leaves the same document on one line without parsing it here (the
        # parent parses it once, and an unreadable answer fails closed there).
        out.write('["ok",' + raw.replace("\n", "") + "]\n")
        out.flush()
    return 0


class ProcessRunner:
    """One child process per compiled policy; calls are serialised by a lock."""

    def __init__(self, policy: CompiledPolicy) -> None:
        self._policy = policy
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[str] | None = None
        self._finalizer: weakref.finalize | None = None

    def _start(self) -> None:
        root = str(Path(__file__).resolve().parents[2])
        # The evaluator never sees the service's environment (tokens, keys, database URLs).
        env = {k: os.environ[k] for k in _KEEP_ENV if k in os.environ}
        env["PYTHONPATH"] = root + (os.pathsep + os.environ["PYTHONPATH"] if os.environ.get("PYTHONPATH") else "")
        env["RUST_BACKTRACE"] = "0"
        proc = subprocess.Popen(
            [sys.executable, "-m", "bot.policy.sandbox"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=env,
            bufsize=1,
        )
        finalizer = weakref.finalize(self, _stop, proc)
        try:
            spec = {"sources": [list(s) for s in self._policy.sources], "data": list(self._policy.data),
                    "query": self._policy.query}
            reply = _exchange(proc, json.dumps(spec), START_TIMEOUT_S)
        except SandboxTimeout:
            finalizer()
            raise SandboxError(f"the policy evaluator did not start within {START_TIMEOUT_S:.0f}s") from None
        except SandboxError:
            finalizer()
            raise
        if reply[0] != "ready":
            finalizer()
            raise SandboxError(str(reply[1]) if len(reply) > 1 else "the policy evaluator failed to start")
        self._proc, self._finalizer = proc, finalizer

    def run(self, input_json: str, *, timeout_s: float) -> Any:
        """The query result for one input document, or SandboxTimeout / SandboxError."""
        with self._lock:
            if self._proc is None:
                self._start()
            assert self._proc is not None
            try:
                reply = _exchange(self._proc, input_json, timeout_s)
            except (SandboxTimeout, SandboxError):
                self._reset()
                raise
        if reply[0] != "ok":
            raise SandboxError(str(reply[1]) if len(reply) > 1 else "unknown evaluator error")
        return reply[1]

    def _reset(self) -> None:
        if self._finalizer is not None:
            self._finalizer()
        self._proc = self._finalizer = None

    def start(self) -> None:
        """Start the child now rather than on the first evaluation (e.g. at service start-up)."""
        with self._lock:
            if self._proc is None:
                self._start()

    def close(self) -> None:
        with self._lock:
            self._reset()

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid


def _exchange(proc: subprocess.Popen[str], line: str, timeout_s: float) -> list[Any]:
    """Write one line, read one line within the deadline."""
    assert proc.stdin is not None and proc.stdout is not None
    try:
        proc.stdin.write(line + "\n")
        proc.stdin.flush()
    except (BrokenPipeError, OSError, ValueError):
        raise SandboxError("the policy evaluator exited unexpectedly") from None
    answer = _readline(proc.stdout, time.monotonic() + timeout_s)
    if answer is None:
        if proc.poll() is not None:
            raise SandboxError(f"the policy evaluator exited (code {proc.returncode})")
        raise SandboxTimeout(f"evaluation took longer than {timeout_s:g}s")
    if not answer:
        raise SandboxError("the policy evaluator exited unexpectedly")
    try:
        reply = json.loads(answer)
    except ValueError:
        raise SandboxError("the policy evaluator sent an unreadable answer") from None
    if not isinstance(reply, list) or not reply:
        raise SandboxError("the policy evaluator sent an unreadable answer")
    return reply


def _readline(stream: IO[str], deadline: float) -> str | None:
    """One line from the child, or None at the deadline ("" at end of file).

    The child answers each request with exactly one line, so nothing is ever left buffered between
    calls and waiting on the pipe's file descriptor is enough.
    """
    with selectors.DefaultSelector() as sel:
        sel.register(stream, selectors.EVENT_READ)
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not sel.select(remaining):
            return None
        return stream.readline()


def _stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.kill()
    for stream in (proc.stdin, proc.stdout):
        try:
            if stream is not None:
                stream.close()
        except OSError:
            pass
    try:
        proc.wait(2)
    except subprocess.TimeoutExpired:  # pragma: no cover
        pass


if __name__ == "__main__":  # pragma: no cover
    sys.exit(_child_main())
