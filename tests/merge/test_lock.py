"""The generated lock: exact bases recovered from the repo alone, and never a base that fails verification."""

from __future__ import annotations

import base64
import json
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.merge import LOCK_PATH, GeneratedLock
from bot.merge.lock import BASE_PREFIX, MAX_BASE_BYTES
from bot.tree import PathEscapeError


def _lock(path: str = "ci.yml", content: str = "a: 1\n") -> GeneratedLock:
    lock = GeneratedLock()
    lock.record(path, content, generator="github_actions", version="0.1.0")
    return lock


def test_lock_lives_under_the_trustacks_directory() -> None:
    assert LOCK_PATH == ".trustacks/generated.lock"


@settings(max_examples=50, deadline=None)
@given(st.dictionaries(st.from_regex(r"[a-z]{1,8}(/[a-z]{1,8}){0,2}\.ya?ml", fullmatch=True), st.text(), max_size=4))
def test_every_recorded_text_comes_back_exactly(files: dict[str, str]) -> None:
    lock = GeneratedLock()
    for path, content in files.items():
        lock.record(path, content, generator="g", version="1")
    again = GeneratedLock.loads(lock.dumps())
    assert again.paths() == sorted(files)
    for path, content in files.items():
        assert again.base_for(path) == content


def test_crlf_bom_and_unicode_survive_byte_for_byte() -> None:
    content = "\ufeffname: café\r\nrun: |\r\n  echo ✓\r\n"
    assert GeneratedLock.loads(_lock(content=content).dumps()).base_for("ci.yml") == content


def test_dumps_is_deterministic_sorted_json_with_version_and_hash() -> None:
    one, two = GeneratedLock(), GeneratedLock()
    for lock, order in ((one, ["b.yml", "a.yml"]), (two, ["a.yml", "b.yml"])):
        for path in order:
            lock.record(path, f"path: {path}\n", generator="helm", version="2.0")
    assert one.dumps() == two.dumps()
    data = json.loads(one.dumps())
    assert data["lock_version"] == 1 and list(data["files"]) == ["a.yml", "b.yml"]
    entry = data["files"]["a.yml"]
    assert entry["generator"] == "helm" and entry["generator_version"] == "2.0" and len(entry["sha256"]) == 64


def test_compression_keeps_the_lock_smaller_than_the_files() -> None:
    content = "".join(f"key{i}:\n  image: ghcr.io/acme/app:{i}\n  replicas: 2\n" for i in range(200))
    assert len(_lock(content=content).dumps()) < len(content) / 2


@pytest.mark.parametrize("text", [None, "", "   ", "not json", "[]", '{"lock_version": 99, "files": {}}',
                                  '{"lock_version": 1, "files": []}'])
def test_missing_or_unreadable_lock_is_empty_never_an_exception(text: str | None) -> None:
    lock = GeneratedLock.loads(text)
    assert len(lock) == 0 and lock.base_for("ci.yml") is None
    if text and text.strip():
        assert lock.problems


def _tamper(lock: GeneratedLock, **changes: object) -> GeneratedLock:
    data = json.loads(lock.dumps())
    data["files"]["ci.yml"].update(changes)
    return GeneratedLock.loads(json.dumps(data))


def test_a_base_that_does_not_match_its_hash_is_unknown() -> None:
    lock = _lock()
    other = BASE_PREFIX + base64.b64encode(zlib.compress(b"a: 2\n")).decode()
    assert _tamper(lock, base=other).base_for("ci.yml") is None
    assert _tamper(lock, sha256="0" * 64).base_for("ci.yml") is None
    assert _tamper(lock, size=1).base_for("ci.yml") is None
    assert _tamper(lock, base="plain:a: 1").base_for("ci.yml") is None
    assert _tamper(lock, base=BASE_PREFIX + "!!!").base_for("ci.yml") is None
    truncated = json.loads(lock.dumps())["files"]["ci.yml"]["base"][:-8]
    assert _tamper(lock, base=truncated).base_for("ci.yml") is None


def test_a_decompression_bomb_is_unknown_not_memory() -> None:
    bomb = BASE_PREFIX + base64.b64encode(zlib.compress(b"a" * (MAX_BASE_BYTES + 10))).decode()
    assert _tamper(_lock(), base=bomb, size=MAX_BASE_BYTES + 10).base_for("ci.yml") is None


def test_entries_with_escaping_or_malformed_paths_are_ignored() -> None:
    data = json.loads(_lock().dumps())
    data["files"]["../outside.yml"] = data["files"]["ci.yml"]
    data["files"]["bad.yml"] = {"generator": 1}
    lock = GeneratedLock.loads(json.dumps(data))
    assert lock.paths() == ["ci.yml"] and len(lock.problems) == 2
    with pytest.raises(PathEscapeError):
        lock.record("/etc/passwd", "x", generator="g", version="1")


def test_paths_are_normalised_and_can_be_forgotten() -> None:
    lock = _lock("./charts/app/values.yaml")
    assert "charts/app/values.yaml" in lock and lock.base_for("charts//app/values.yaml") == "a: 1\n"
    lock.forget("charts/app/values.yaml")
    assert len(lock) == 0
