"""File facts cached per file: the same facts as the one-loop reference, cold, warm and after edits.

Files come from the sample apps (every CI system, manifests, Dockerfiles, code) plus made-up ones
that exercise reusable-workflow calls, duplicated paths, secrets on old and new lines, plaintext URLs,
auto-merge settings, deletions and binary content.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.models import FileChange
from bot.policy.facts import FactsCache, build_input, file_facts_for

from . import reference_facts
from .conftest import GOOD_WORKFLOW, make_profile, make_proposal

APPS = Path(__file__).resolve().parents[2] / "fixtures" / "apps"

CALLER = "on: push\njobs:\n  rel:\n    uses: ./.github/workflows/callee.yml\n  t:\n    runs-on: x\n    steps:\n      - run: pytest\n"
CALLEE = "on: workflow_call\njobs:\n  s:\n    runs-on: x\n    steps:\n      - run: cosign sign --yes x\n      - run: syft x\n"
MADE_UP: dict[str, str] = {
    ".github/workflows/ci.yml": CALLER,
    ".github/workflows/callee.yml": CALLEE,
    ".github/workflows/build.yml": GOOD_WORKFLOW,
    "deploy/values.yaml": "db:\n  password: hunter2hunter2\n  url: http://billing.acme.com/api\nimage: ghcr.io/acme/x:1\n",
    "app/settings.py": 'API_KEY = "sk_live_' + "a" * 24 + '"\nTOKEN = os.environ["T"]\n',
    "renovate.json": '{"extends": ["config:base"], "automerge": true}\n',
    ".aws/credentials": "[default]\naws_secret_access_key = " + "A" * 40 + "\n",
    "k8s/secret.yaml": "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n  password: plain\n",
    "bin/blob.yaml": "a: 1\n\x00\x00",
}


def _pool() -> dict[str, str]:
    pool = dict(MADE_UP)
    for f in sorted(APPS.rglob("*")):
        if f.is_file() and f.stat().st_size < 64 * 1024:
            try:
                pool[f.relative_to(APPS).as_posix().split("/", 1)[1]] = f.read_text(encoding="utf-8")
            except UnicodeDecodeError:
                continue
    return pool


POOL = _pool()
PATHS = sorted(POOL)

CHANGE = st.builds(
    lambda path, new_from, old_from, deleted, edit: FileChange(
        path,
        None if deleted else (POOL[new_from] + edit),
        POOL[old_from] if old_from else None,
    ),
    st.sampled_from(PATHS),
    st.sampled_from(PATHS),
    st.one_of(st.none(), st.sampled_from(PATHS)),
    st.sampled_from([False, False, False, True]),  # deleted
    st.sampled_from(["", "\n# edited\n", "\ntoken: ghp_" + "Z" * 36 + "\n", "\nurl: http://evil.example.net/x\n"]),
)
CHANGES = st.lists(CHANGE, max_size=12)


def test_the_pool_covers_every_kind_of_fact():
    facts = file_facts_for([FileChange(p, c) for p, c in POOL.items()])
    for key in ("ci", "secrets", "credential_files", "images", "insecure_urls", "auto_merge"):
        assert facts[key], key
    assert facts["k8s"]["secrets"] and facts["k8s"]["workloads"] and facts["k8s"]["ingresses"]
    assert {c["system"] for c in facts["ci"]} >= {"github-actions", "gitlab-ci", "azure-pipelines", "jenkins"}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(first=CHANGES, second=CHANGES)
def test_cached_facts_equal_the_reference_cold_warm_and_after_edits(first, second):
    cache = FactsCache(max_entries=8)  # small: evictions happen too
    for files in (first, first, second, first + second):
        expected = reference_facts.file_facts_for(copy.deepcopy(files))
        assert file_facts_for(files) == expected
        assert file_facts_for(files, cache=cache) == expected
    assert len(cache) <= 8


def test_a_cached_file_is_not_read_again(monkeypatch):
    import bot.policy.facts as facts

    cache = FactsCache()
    files = [FileChange(p, POOL[p]) for p in (".github/workflows/ci.yml", ".github/workflows/callee.yml", "deploy/values.yaml")]
    first = file_facts_for(files, cache=cache)
    calls: list[str] = []
    real = facts._file_facts
    monkeypatch.setattr(facts, "_file_facts", lambda path, *a, **k: calls.append(path) or real(path, *a, **k))
    assert file_facts_for(files, cache=cache) == first
    assert calls == []
    edited = [*files[:2], FileChange("deploy/values.yaml", POOL["deploy/values.yaml"] + "x: 1\n")]
    file_facts_for(edited, cache=cache)
    assert calls == ["deploy/values.yaml"]
    # same contents, other old text: "introduced" may differ, so it is a different entry
    file_facts_for([FileChange("deploy/values.yaml", POOL["deploy/values.yaml"], POOL["deploy/values.yaml"])], cache=cache)
    assert calls == ["deploy/values.yaml", "deploy/values.yaml"]


def test_merged_calls_do_not_leak_into_the_cache():
    """merge_calls gives the caller its callee's steps; the callee alone must not keep them."""
    cache = FactsCache()
    both = file_facts_for([FileChange(".github/workflows/ci.yml", CALLER), FileChange(".github/workflows/callee.yml", CALLEE)], cache=cache)
    caller = next(c for c in both["ci"] if c["path"].endswith("ci.yml"))
    assert caller["signs"] and caller["sbom"]
    alone = file_facts_for([FileChange(".github/workflows/ci.yml", CALLER)], cache=cache)
    assert alone["ci"][0]["signs"] == [] and alone["ci"][0]["sbom"] == []


def test_lru_evicts_the_least_recently_used():
    cache = FactsCache(max_entries=2)
    a, b, c = (FileChange(f"{n}.yaml", f"{n}: 1\n") for n in "abc")
    file_facts_for([a], cache=cache)
    file_facts_for([b], cache=cache)
    file_facts_for([a], cache=cache)  # a is now the most recent
    file_facts_for([c], cache=cache)
    assert cache.get(FactsCache.key(a)) is not None and cache.get(FactsCache.key(b)) is None


def test_lone_surrogates_hash_and_scan():
    f = FileChange("values.yaml", "password: hunter2\udcff\n")
    assert FactsCache.key(f) != FactsCache.key(FileChange("values.yaml", "password: hunter2\udcfe\n"))
    assert file_facts_for([f], cache=FactsCache())["secrets"]


def test_engine_decisions_are_the_same_with_the_cache_warm(engine_all):
    profile = make_profile()
    bad = make_proposal(files={".github/workflows/build.yml": GOOD_WORKFLOW, **{p: POOL[p] for p in MADE_UP if p != "bin/blob.yaml"}})
    first = engine_all.evaluate(bad, profile)
    again = engine_all.evaluate(bad, profile)
    assert first == again and not first.allowed
    uncached = engine_all.evaluate_input(build_input(bad, profile))
    assert json.dumps(first.__dict__, default=str, sort_keys=True) == json.dumps(uncached.__dict__, default=str, sort_keys=True)
