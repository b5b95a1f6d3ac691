"""Bounded-time evaluation: a child process that holds the compiled policy and can be killed.

regorus holds the GIL for the whole of an evaluation, so no thread, signal or timer in this process
can interrupt a runaway rule (a Cartesian product in an overlay, say). The only hard bound is a
separate process: the parent sends the input document over a pipe and waits at most `timeout_s`
for the answer; on a timeout it kills the child (a fresh one is started on the next call) and the
caller turns the timeout into a denial. The child compiles the policy once and clones the compiled
engine for every evaluation, exactly as the in-process path does. A round trip costs ~0.1 ms.
"""

from __future__ import annotations

import json
import multiprocessing
import threading
import weakref
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any, Sequence

#: how long a fresh child may take to import regorus and compile the policy
START_TIMEOUT_S = 30.0


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


def _child_main(conn: Connection, policy: CompiledPolicy) -> None:  # pragma: no cover - runs in the child
    """Compile once, then answer one query per message until the pipe closes."""
    from bot.policy.engine import RegoEngine, clean_error

    try:
        base = RegoEngine.build(policy.sources, data=policy.data)
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which fails closed
        conn.send(("err", clean_error(exc)))
        return
    conn.send(("ready", ""))
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        try:
            engine = base.clone()
            engine.set_input_json(message)
            conn.send(("ok", engine.query_json(policy.query)))
        except Exception as exc:  # noqa: BLE001 - any engine failure is reported, never swallowed
            conn.send(("err", clean_error(exc)))


class ProcessRunner:
    """One child process per compiled policy; calls are serialised by a lock."""

    def __init__(self, policy: CompiledPolicy) -> None:
        self._policy = policy
        self._lock = threading.Lock()
        self._proc: Any = None
        self._conn: Connection | None = None
        self._finalizer: weakref.finalize | None = None

    def _start(self) -> None:
        ctx = multiprocessing.get_context("spawn")  # never fork a process that may run threads
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=_child_main, args=(child, self._policy), daemon=True, name="trustacks-policy")
        proc.start()
        child.close()
        if not parent.poll(START_TIMEOUT_S):
            _stop(proc, parent)
            raise SandboxError(f"the policy evaluator did not start within {START_TIMEOUT_S:.0f}s")
        try:
            status, detail = parent.recv()
        except (EOFError, OSError):
            _stop(proc, parent)
            raise SandboxError("the policy evaluator exited while starting") from None
        if status != "ready":
            _stop(proc, parent)
            raise SandboxError(detail)
        self._proc, self._conn = proc, parent
        self._finalizer = weakref.finalize(self, _stop, proc, parent)

    def run(self, input_json: str, *, timeout_s: float) -> Any:
        """The query result for one input document, or SandboxTimeout / SandboxError."""
        with self._lock:
            if self._conn is None:
                self._start()
            conn = self._conn
            assert conn is not None
            try:
                conn.send(input_json)
                ready = conn.poll(timeout_s)
            except (OSError, EOFError, BrokenPipeError):
                self._reset()
                raise SandboxError("the policy evaluator exited unexpectedly") from None
            if not ready:
                self._reset(kill=True)
                raise SandboxTimeout(f"evaluation took longer than {timeout_s:g}s")
            try:
                status, payload = conn.recv()
            except (EOFError, OSError):
                self._reset()
                raise SandboxError("the policy evaluator exited unexpectedly") from None
        if status != "ok":
            raise SandboxError(payload)
        return json.loads(payload)

    def _reset(self, *, kill: bool = False) -> None:
        if kill and self._proc is not None:
            self._proc.kill()
        if self._finalizer is not None:
            self._finalizer()
        self._proc = self._conn = self._finalizer = None

    def start(self) -> None:
        """Start the child now rather than on the first evaluation (e.g. at service start-up)."""
        with self._lock:
            if self._conn is None:
                self._start()

    def close(self) -> None:
        with self._lock:
            self._reset()

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid


def _stop(proc: Any, conn: Connection) -> None:
    try:
        conn.send(None)
    except (OSError, ValueError):
        pass
    conn.close()
    proc.join(0.2)
    if proc.is_alive():
        proc.kill()
        proc.join(2)
