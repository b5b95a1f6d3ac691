"""Profile diff: additions, changes, stale entries, declared entries untouched, services, Markdown with evidence."""

from __future__ import annotations

from bot.discovery import DiscoveryResult, discover, profile_diff
from bot.models import Evidence, Finding, Service
from bot.profile import Profile
from bot.tree import DirTree

from .conftest import APPS

PLATFORM = "acme/platform"


def _finding(category, tool, *evidence, details=(), confidence=0.9):
    ev = tuple(Evidence(p, line, snip) for p, line, snip in evidence)
    return Finding(category, tool, ev, confidence, "test", tuple(details))


def _result(repo="acme/app", findings=(), services=()):
    return DiscoveryResult(repo=repo, findings=list(findings), services=list(services))


PROFILE = """\
version: 1
platform:
  repo: acme/platform
tooling:
  ci:
    - tool: jenkins            # the old build farm, still used for releases
      source: declared
    - tool: github-actions
      source: discovered
      evidence: ["acme/app:.github/workflows/ci.yml:3"]
  registry:
    - tool: ecr
      source: discovered
      evidence: ["acme/app:.github/workflows/ci.yml:13"]
      settings: {host: 111111111111.dkr.ecr.us-east-1.amazonaws.com, team_note: keep me}
  image_scanning:
    - tool: trivy
      source: discovered
      evidence: ["acme/app:.github/workflows/ci.yml:40", "acme/other:ci.yml:9"]
  sast_sca:
    - tool: semgrep
      source: discovered
      evidence: ["acme/app:.semgrep.yml:1"]
    - tool: checkmarx
      source: declared
  observability:
    - tool: datadog
      source: discovered
      evidence: ["acme/elsewhere:Dockerfile:4"]
services:
  - name: app
    repo: acme/app
    path: .
    language: python
    port: 9000
    evidence: ["acme/app:pyproject.toml:7"]
  - name: legacy
    repo: acme/app
    path: legacy
    evidence: ["acme/app:legacy/setup.py:1"]
  - name: handwritten
    repo: acme/app
    path: tools/cron
"""


def test_first_run_without_profile_adds_everything_and_builds_a_valid_profile():
    r = discover(DirTree(APPS / "payments-fastapi"), repo="acme/payments")
    diff = profile_diff(None, [r], platform_repo=PLATFORM)
    assert not diff.is_empty and not diff.changes and not diff.stale
    assert {(d.category, d.tool) for d in diff.additions} == {f.key for f in r.findings}
    new = diff.apply(None)
    assert new.platform_repo == PLATFORM
    ecr = new.first_tool("registry")
    assert (ecr.tool, ecr.source) == ("ecr", "discovered")
    assert ecr.settings == {"host": "123456789012.dkr.ecr.us-east-1.amazonaws.com", "region": "us-east-1"}
    assert ecr.evidence[0] == "acme/payments:.github/workflows/ci.yml:13"
    [svc] = new.services()
    assert (svc.name, svc.framework, svc.port, svc.runtime_version) == ("payments", "fastapi", 8000, "3.12")
    Profile.loads(new.dumps())  # round-trips and validates


def test_applying_the_diff_makes_the_next_diff_empty():
    results = [discover(DirTree(APPS / n), repo=f"acme/{n}") for n in ("platform-monorepo", "ledger-spring")]
    first = profile_diff(None, results, platform_repo=PLATFORM)
    profile = first.apply(None)
    again = profile_diff(Profile.loads(profile.dumps()), results, platform_repo=PLATFORM)
    assert again.is_empty, again.to_markdown()
    assert len(profile.services()) == 3


def test_declared_entries_are_never_touched_and_discovered_ones_follow_the_repo():
    profile = Profile.loads(PROFILE)
    r = _result(
        findings=[
            _finding("ci", "github-actions", (".github/workflows/ci.yml", 5, "on: push")),  # line drift only
            _finding("registry", "ecr", (".github/workflows/ci.yml", 13, "ECR_REGISTRY: x"),
                     details=(("host", "222222222222.dkr.ecr.eu-west-1.amazonaws.com"), ("region", "eu-west-1"))),
            _finding("ci", "jenkins", ("Jenkinsfile", 1, "pipeline {")),
            _finding("sast_sca", "checkmarx", (".gitlab-ci.yml", 9, "cx scan create")),
            _finding("secret_scanning", "gitleaks", (".gitleaks.toml", 1, "title = 'x'")),
            _finding("ticketing", "jira", ("PR.md", 1, "PAY-1"), confidence=0.3),
        ],
        services=[Service("app", "acme/app", ".", language="python", framework="fastapi", port=9000,
                          evidence=[Evidence("pyproject.toml", 7, "fastapi")])],
    )
    diff = profile_diff(profile, [r], platform_repo=PLATFORM)
    assert [(d.category, d.tool) for d in diff.additions] == [("secret_scanning", "gitleaks")]
    assert [(d.category, d.tool) for d in diff.changes] == [("registry", "ecr"), ("image_scanning", "trivy")]
    assert [(d.category, d.tool) for d in diff.stale] == [("sast_sca", "semgrep")]
    assert [(d.category, d.tool) for d in diff.low_confidence] == [("ticketing", "jira")]

    new = diff.apply(profile)
    tools = {c: [(e.tool, e.source) for e in new.tools(c)] for c in ("ci", "registry", "image_scanning", "sast_sca")}
    assert tools["ci"] == [("jenkins", "declared"), ("github-actions", "discovered")]
    assert tools["sast_sca"] == [("checkmarx", "declared")]
    ecr = new.first_tool("registry")
    assert ecr.settings == {"host": "222222222222.dkr.ecr.eu-west-1.amazonaws.com", "region": "eu-west-1",
                            "team_note": "keep me"}
    # trivy is no longer seen in acme/app, but acme/other (not scanned now) still cites it
    assert new.first_tool("image_scanning").evidence == ["acme/other:ci.yml:9"]
    # datadog is only cited from a repo this run did not scan: untouched
    assert new.first_tool("observability").tool == "datadog"
    assert "# the old build farm" in new.dumps()  # comments survive
    assert profile.first_tool("sast_sca").tool == "semgrep"  # the input Profile is not modified


def test_services_update_discovered_fields_and_drop_only_discovered_services():
    profile = Profile.loads(PROFILE)
    r = _result(services=[
        Service("app", "acme/app", ".", language="python", framework="fastapi", runtime_version="3.12",
                evidence=[Evidence("pyproject.toml", 7, "fastapi")]),
        Service("worker", "acme/app", "worker", language="go", framework="go",
                evidence=[Evidence("worker/go.mod", 1, "module x")]),
    ])
    diff = profile_diff(profile, [r], platform_repo=PLATFORM)
    actions = {(s.action, s.name) for s in diff.services}
    assert actions == {("update", "app"), ("add", "worker"), ("stale", "legacy")}
    new = diff.apply(profile)
    by_name = {s.name: s for s in new.services()}
    assert set(by_name) == {"app", "worker", "handwritten"}
    assert (by_name["app"].framework, by_name["app"].runtime_version, by_name["app"].port) == ("fastapi", "3.12", 9000)


def test_service_names_stay_unique_across_repositories():
    a = _result("acme/one", services=[Service("api", "acme/one", "api", language="go", framework="go")])
    b = _result("acme/two", services=[Service("api", "acme/two", "api", language="go", framework="go")])
    new = profile_diff(None, [a, b], platform_repo=PLATFORM).apply(None)
    assert sorted(s.name for s in new.services()) == ["api", "two-api"]


def test_markdown_lists_every_change_with_evidence_and_cannot_be_broken_by_backticks():
    profile = Profile.loads(PROFILE)
    r = _result(findings=[
        _finding("secret_scanning", "gitleaks", (".gitleaks.toml", 1, "title = `x`")),
        _finding("registry", "ecr", (".github/workflows/ci.yml", 13, "ECR_REGISTRY: y"),
                 details=(("host", "222222222222.dkr.ecr.eu-west-1.amazonaws.com"),)),
        _finding("unparseable", "yaml", ("deploy/x.yaml", 3, "invalid YAML: bad indent")),
    ])
    md = profile_diff(profile, [r], platform_repo=PLATFORM).to_markdown()
    assert "#### Added" in md and "Gitleaks (`gitleaks`)" in md
    assert "`acme/app:.gitleaks.toml:1` `` title = `x` ``" in md
    assert "setting host: `111111111111.dkr.ecr.us-east-1.amazonaws.com` → `222222222222.dkr.ecr.eu-west-1.amazonaws.com`" in md
    assert "#### Stale" in md and "Semgrep (`semgrep`)" in md and "`acme/app:.semgrep.yml:1`" in md
    assert "`acme/app:deploy/x.yaml:3`" in md
    assert "Jenkins" not in md.split("#### Added")[1]  # declared entries are not listed as changes


def test_empty_diff_says_so():
    diff = profile_diff(Profile.new(PLATFORM), [_result()], platform_repo=PLATFORM)
    assert diff.is_empty
    assert "No change" in diff.to_markdown()
