"""A whole generator run through the merge: the demo's "human edited the generated files" scenario."""

from __future__ import annotations

from bot.merge import LOCK_PATH, GeneratedLock, plan_merge

from .helpers import FIXTURES, load, read_text

WORKFLOW = ".github/workflows/build.yml"
VALUES = "charts/payments/values.yaml"


def _case(name: str, part: str) -> str:
    return read_text(FIXTURES / name / part)


def test_second_run_keeps_the_human_edits_applies_the_generator_and_lists_conflicts() -> None:
    # run 1: the repo is empty; the bot creates both files and the lock
    repo: dict[str, str] = {}
    first = plan_merge(
        {WORKFLOW: _case("workflow-human-edits", "base"), VALUES: _case("values-human-edits", "base")},
        read=repo.get, generators={WORKFLOW: "github_actions", VALUES: "helm"}, version="0.1.0",
    )
    assert [f.path for f in first.files] == [WORKFLOW, VALUES, LOCK_PATH]  # sorted, lock last
    assert all(f.action == "create" for f in first.files) and not first.notes
    repo.update({f.path: f.new for f in first.files})

    # a human edits both files after merging the first proposal
    repo[WORKFLOW] = _case("workflow-human-edits", "current")
    repo[VALUES] = _case("values-human-edits", "current")

    # run 2: the generator has moved on
    second = plan_merge(
        {WORKFLOW: _case("workflow-human-edits", "generated"), VALUES: _case("values-human-edits", "generated")},
        read=repo.get, generators={WORKFLOW: "github_actions", VALUES: "helm"}, version="0.2.0",
    )
    changed = {f.path: f for f in second.files}
    assert changed[WORKFLOW].new == _case("workflow-human-edits", "expected")
    assert changed[VALUES].new == _case("values-human-edits", "expected")
    assert {(n.path, n.key) for n in second.conflicts} == {
        (WORKFLOW, "jobs.build.steps[name=Set up Python].with.python-version"),
        (VALUES, "image.tag"),
        (VALUES, "ingress"),
    }
    lock = GeneratedLock.loads(changed[LOCK_PATH].new)
    assert lock.base_for(VALUES) == _case("values-human-edits", "generated")
    assert lock.entry(VALUES).generator == "helm" and lock.entry(VALUES).generator_version == "0.2.0"
    assert load(changed[VALUES].new)["replicaCount"] == 6


def test_a_file_that_does_not_parse_is_left_alone_and_keeps_its_old_base() -> None:
    lock = GeneratedLock()
    lock.record("values.yaml", "a: 1\n", generator="helm", version="1")
    repo = {"values.yaml": "a: [1\n", LOCK_PATH: lock.dumps()}
    plan = plan_merge({"values.yaml": "a: 2\n"}, read=repo.get, generators="helm", version="2")
    assert plan.files == [] and "values.yaml" in plan.errors
    assert plan.lock.base_for("values.yaml") == "a: 1\n"


def test_first_run_over_files_already_as_generated_only_records_the_lock() -> None:
    repo = {"a.yaml": "a: 1\n"}
    plan = plan_merge({"a.yaml": "a: 1\n"}, read=repo.get, generators="g", version="1")
    assert plan.only_lock and plan.lock.base_for("a.yaml") == "a: 1\n"
