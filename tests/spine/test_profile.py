"""The Environment Profile: schema errors name the file and field; round trips keep comments."""

from __future__ import annotations

import pytest

from bot.profile import Profile, ProfileError

GOOD = """\
# Our platform. Reviewed by the platform team.
version: 1
platform:
  repo: acme/platform   # the GitOps repo
  deploy_with: helm
tooling:
  ci:
    - tool: github-actions
      source: discovered
      evidence: ["acme/app:.github/workflows/ci.yml:1"]
  registry:
    - tool: ecr
      source: declared
      settings: {host: 123.dkr.ecr.us-east-1.amazonaws.com}
services:
  - name: payments
    repo: acme/payments
    language: python
    framework: fastapi
    runtime_version: "3.12"
    port: 8000
"""


def test_loads_and_reads():
    p = Profile.loads(GOOD)
    assert p.platform_repo == "acme/platform"
    assert [t.tool for t in p.tools("ci")] == ["github-actions"]
    assert p.first_tool("registry").settings["host"].startswith("123.")
    assert p.first_tool("registry").ref == ".trustacks/profile.yaml#tooling.registry[0]"
    assert p.tools("gitops") == []
    svc = p.service("payments")
    assert (svc.language, svc.framework, svc.runtime_version, svc.port) == ("python", "fastapi", "3.12", 8000)


def test_round_trip_keeps_comments_and_order():
    assert Profile.loads(GOOD).dumps() == GOOD  # byte for byte
    text = Profile.loads(GOOD).dumps()
    assert "# the GitOps repo" in text and "# Our platform." in text


@pytest.mark.parametrize(
    "mutate, field, fragment",
    [
        (lambda t: t.replace("source: discovered", "source: guessed"), "tooling.ci[0].source", "is not one of"),
        (lambda t: t.replace("port: 8000", "port: 99999"), "services[0].port", "maximum"),
        (lambda t: t.replace("version: 1", "version: 2"), "version", "1 was expected"),
        (lambda t: t.replace("  ci:", "  cee:"), "tooling", "cee"),
        (lambda t: t.replace("repo: acme/platform", "repo: not a repo"), "platform.repo", "does not match"),
        (lambda t: t.replace("name: payments", "name: Payments_Service"), "services[0].name", "does not match"),
        (lambda t: t.replace("deploy_with: helm", "deploy_with: ansible"), "platform.deploy_with", "is not one of"),
    ],
)
def test_schema_errors_name_path_and_field(mutate, field, fragment):
    with pytest.raises(ProfileError) as err:
        Profile.loads(mutate(GOOD), path="platform/.trustacks/profile.yaml")
    assert err.value.field == field
    assert fragment in err.value.message
    assert str(err.value).startswith(f"platform/.trustacks/profile.yaml: {field}: ")


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("", "empty"),
        ("- a\n- b\n", "top level must be a mapping"),
        ("version: 1\nplatform: {repo: [\n", "invalid YAML: line"),
        (b"\xff\xfe", "not valid UTF-8"),
        ("a: &a [x]\n" + "".join(f"k{i}: *a\n" for i in range(150)), "too many YAML aliases"),
        ("x: " + "[" * 2000 + "]" * 2000 + "\n", "invalid YAML"),
        ("version: 1\n", "'platform' is a required property"),
    ],
)
def test_unreadable_profiles(text, fragment):
    with pytest.raises(ProfileError) as err:
        Profile.loads(text)
    assert fragment in str(err.value)


def test_duplicate_service_names_refused():
    dup = GOOD + "  - name: payments\n    repo: acme/other\n"
    with pytest.raises(ProfileError, match="duplicate service name"):
        Profile.loads(dup)


def test_new_profile_validates_and_edits():
    p = Profile.new("acme/platform")
    p.set_tools("registry", [{"tool": "ghcr", "source": "discovered", "evidence": ["a/b:c:1"]}])
    p.set_tools("ci", [{"tool": "gitlab-ci", "source": "discovered"}])
    p.set_services([{"name": "web", "repo": "acme/web", "language": "node", "port": 3000}])
    again = Profile.loads(p.dumps())
    assert list(again.to_plain()["tooling"]) == ["ci", "registry"]  # catalog order
    assert again.services()[0].port == 3000
    with pytest.raises(KeyError):
        p.set_tools("nonsense", [])
