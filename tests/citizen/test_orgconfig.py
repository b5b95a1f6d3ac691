"""The org config: schema errors that name the field, quieter-only overrides, last good kept."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from hypothesis import given, settings, strategies as st

from bot.orgconfig import (
    CONFIG_PATH, Grouping, Mode, OrgConfig, OrgConfigError, RebaseWhen, email_matches, resolve_config, schema,
)

FULL = """\
version: 1
platform_repo: acme/platform
mode: live
packs: [soc2]
limits:
  max_new_prs_per_hour: 4
  max_open_prs_per_repo: 2
grouping: per-service
rebase_when: behind-base
ignore_emails:
  - "*[bot]@users.noreply.github.com"
  - ci@acme.io
ignore_paths: ["vendor/**"]
overridable: [mode, packs, limits, grouping, rebase_when, ignore_emails, ignore_paths]
repos:
  acme/payments:
    mode: dry-run
    packs: [pci]
    limits: {max_new_prs_per_hour: 1, max_open_prs_per_repo: 1}
    grouping: per-repo
    rebase_when: never
    ignore_emails: [ci@acme.io]
    ignore_paths: ["legacy/**"]
"""


def test_defaults():
    eff = OrgConfig.default().for_repo("acme/app")
    assert (eff.mode, eff.max_new_prs_per_hour, eff.max_open_prs_per_repo) == (Mode.LIVE, 5, 3)
    assert (eff.grouping, eff.rebase_when) == (Grouping.PER_REPO, RebaseWhen.CONFLICTED)
    assert eff.packs == () and eff.ignore_emails == () and not eff.dry_run
    assert set(eff.because.values()) == {"built-in default"}


def test_empty_file_means_defaults_but_names_the_file():
    cfg = OrgConfig.loads("# nothing yet\n", path="acme/platform:.trustacks/config.yaml")
    eff = cfg.for_repo("acme/app")
    assert eff.max_new_prs_per_hour == 5
    assert "not set in acme/platform:.trustacks/config.yaml" in eff.because["mode"]


def test_full_file_and_a_repo_override():
    cfg = OrgConfig.loads(FULL)
    org = cfg.for_repo("acme/web")
    assert org.platform_repo == "acme/platform" and org.packs == ("soc2",)
    assert (org.max_new_prs_per_hour, org.max_open_prs_per_repo) == (4, 2)
    assert (org.grouping, org.rebase_when) == (Grouping.PER_SERVICE, RebaseWhen.BEHIND_BASE)
    pay = cfg.for_repo("acme/payments")
    assert pay.dry_run and pay.packs == ("soc2", "pci")
    assert (pay.max_new_prs_per_hour, pay.max_open_prs_per_repo) == (1, 1)
    assert (pay.grouping, pay.rebase_when) == (Grouping.PER_REPO, RebaseWhen.NEVER)
    assert pay.ignore_emails == ("ci@acme.io",)
    assert pay.ignore_paths == ("vendor/**", "legacy/**")
    assert pay.because["mode"] == f'repos["acme/payments"] in {CONFIG_PATH}'
    assert pay.because["packs"].endswith('+ repos["acme/payments"] in ' + CONFIG_PATH)
    assert org.because["mode"] == f"org config {CONFIG_PATH}"


def test_repo_override_matched_case_insensitively_only_because_it_is_quieter():
    assert OrgConfig.loads(FULL).for_repo("ACME/Payments").dry_run


def test_force_dry_run_wins_over_live():
    eff = OrgConfig.loads(FULL).for_repo("acme/web", force_dry_run=True)
    assert eff.dry_run and eff.because["mode"] == "TRUSTACKS_DRY_RUN (server setting)"


@pytest.mark.parametrize("text, field, line, needle", [
    ("mode: yolo\n", "mode", 1, "'yolo' is not one of live, dry-run"),
    ("mode: live\nfoo: 1\n", "foo", 2, "unknown key"),
    ("limits:\n  max_new_prs_per_hour: -1\n", "limits.max_new_prs_per_hour", 2, "minimum"),
    ("limits:\n  max_open_prs_per_repo: two\n", "limits.max_open_prs_per_repo", 2, "not of type 'integer'"),
    ("limits:\n  per_day: 3\n", "limits.per_day", 2, "unknown key"),
    ("packs: [soc2, SOC2]\n", "packs[1]", 1, "pack name"),
    ("platform_repo: platform\n", "platform_repo", 1, "owner/name"),
    ("ignore_paths: ['vendor/']\n", "ignore_paths[0]", 1, "vendor/**"),
    ("ignore_paths: ['a**/b']\n", "ignore_paths[0]", 1, "whole segment"),
    ("ignore_emails: ['a b@x']\n", "ignore_emails[0]", 1, "without spaces"),
    ("overridable: [platform_repo]\n", "overridable[0]", 1, "is not one of"),
    ("grouping: per-team\n", "grouping", 1, "per-repo, per-service"),
    ("rebase_when: always\n", "rebase_when", 1, "conflicted"),
    ("version: 2\n", "version", 1, "1 was expected"),
    ("repos:\n  'not a repo':\n    mode: dry-run\n", 'repos["not a repo"]', 2, "owner/name"),
    ("overridable: [mode]\nrepos:\n  acme/app:\n    platform_repo: a/b\n",
     'repos["acme/app"].platform_repo', 4, "unknown key"),
    ("- mode\n", "(top level)", 1, "not a list"),
    ("1: x\n", "(top level)", 1, "not a string"),
])
def test_schema_errors_name_file_field_and_line(text, field, line, needle):
    with pytest.raises(OrgConfigError) as err:
        OrgConfig.loads(text, path="acme/platform:.trustacks/config.yaml")
    e = err.value
    assert (e.field, e.line) == (field, line)
    assert needle in str(e)
    assert str(e).startswith(f"acme/platform:.trustacks/config.yaml: {field}")


@pytest.mark.parametrize("text, needle", [
    ("mode: [\n", "invalid YAML"),
    ("mode: live\nmode: dry-run\n", "duplicate key"),
    ("a: &a [1]\n" + "".join(f"b{i}: *a\n" for i in range(60)), "too many YAML aliases"),
    (b"mode: \xff\n", "not valid UTF-8"),
    ("x" * (300 * 1024), "larger than"),
])
def test_unreadable_files(text, needle):
    with pytest.raises(OrgConfigError) as err:
        OrgConfig.loads(text)
    assert needle in str(err.value) and CONFIG_PATH in str(err.value)


def test_all_errors_are_listed_for_the_check_run():
    with pytest.raises(OrgConfigError) as err:
        OrgConfig.loads("mode: x\ngrouping: y\n")
    assert len(err.value.errors) == 2
    assert [d.split(":")[1].strip().split(" ")[0] for d in err.value.details()] == ["mode", "grouping"]


# ---------------------------------------------------------------- overrides: only quieter, only allowed keys

def _with_override(org: str, override: str, overridable: str = "[mode, packs, limits, grouping, rebase_when, "
                                                                  "ignore_emails, ignore_paths]") -> str:
    return f"{org}overridable: {overridable}\nrepos:\n  acme/app:\n{override}"


@pytest.mark.parametrize("org, override, field, needle", [
    ("mode: dry-run\n", "    mode: live\n", 'repos["acme/app"].mode', "looser"),
    ("", "    limits: {max_new_prs_per_hour: 6}\n", 'repos["acme/app"].limits.max_new_prs_per_hour', "above"),
    ("limits: {max_open_prs_per_repo: 1}\n", "    limits: {max_open_prs_per_repo: 2}\n",
     'repos["acme/app"].limits.max_open_prs_per_repo', "above"),
    ("", "    grouping: per-service\n", 'repos["acme/app"].grouping', "more PRs"),
    ("", "    rebase_when: behind-base\n", 'repos["acme/app"].rebase_when', "more often"),
    ("rebase_when: never\n", "    rebase_when: conflicted\n", 'repos["acme/app"].rebase_when', "more often"),
    ("ignore_emails: [a@x]\n", "    ignore_emails: [a@x, '*@*']\n", 'repos["acme/app"].ignore_emails',
     "'*@*' not in the org's ignore_emails"),
])
def test_override_towards_looser_is_refused(org, override, field, needle):
    with pytest.raises(OrgConfigError) as err:
        OrgConfig.loads(_with_override(org, override))
    assert err.value.field == field and needle in str(err.value)


def test_override_of_a_key_not_overridable_is_refused():
    with pytest.raises(OrgConfigError) as err:
        OrgConfig.loads(_with_override("", "    mode: dry-run\n", overridable="[limits]"))
    assert err.value.field == 'repos["acme/app"].mode'
    assert "not overridable (overridable: limits)" in str(err.value)
    with pytest.raises(OrgConfigError) as err:
        OrgConfig.loads("repos:\n  acme/app:\n    mode: dry-run\n")
    assert "overridable: nothing" in str(err.value)


def test_two_keys_for_one_repo_differing_in_case_are_refused():
    with pytest.raises(OrgConfigError) as err:
        OrgConfig.loads(_with_override("", "    mode: dry-run\n  Acme/App:\n    mode: dry-run\n"))
    assert "same repo" in str(err.value)


def test_a_repo_can_never_disable_a_pack():
    cfg = OrgConfig.loads(_with_override("packs: [soc2, hipaa]\n", "    packs: [pci]\n"))
    assert cfg.for_repo("acme/app").packs == ("soc2", "hipaa", "pci")


def test_equal_values_are_accepted():
    text = _with_override("mode: dry-run\nrebase_when: never\n",
                          "    mode: dry-run\n    rebase_when: never\n    limits: {max_new_prs_per_hour: 5}\n")
    eff = OrgConfig.loads(text).for_repo("acme/app")
    assert eff.dry_run and eff.rebase_when is RebaseWhen.NEVER and eff.max_new_prs_per_hour == 5


_ORG = st.fixed_dictionaries({
    "mode": st.sampled_from(["live", "dry-run"]),
    "grouping": st.sampled_from(["per-repo", "per-service"]),
    "rebase_when": st.sampled_from(["never", "conflicted", "behind-base"]),
    "limits": st.fixed_dictionaries({"max_new_prs_per_hour": st.integers(0, 20),
                                     "max_open_prs_per_repo": st.integers(0, 10)}),
    "ignore_emails": st.lists(st.sampled_from(["a@x", "b@x", "*@bots.io"]), unique=True),
    "packs": st.lists(st.sampled_from(["soc2", "pci", "hipaa"]), unique=True),
})
_OVERRIDE = st.fixed_dictionaries({}, optional={
    "mode": st.sampled_from(["live", "dry-run"]),
    "grouping": st.sampled_from(["per-repo", "per-service"]),
    "rebase_when": st.sampled_from(["never", "conflicted", "behind-base"]),
    "limits": st.fixed_dictionaries({}, optional={"max_new_prs_per_hour": st.integers(0, 20),
                                                  "max_open_prs_per_repo": st.integers(0, 10)}),
    "ignore_emails": st.lists(st.sampled_from(["a@x", "b@x", "*@bots.io", "*"]), unique=True),
    "packs": st.lists(st.sampled_from(["soc2", "pci", "fedramp"]), unique=True),
    "ignore_paths": st.lists(st.sampled_from(["vendor/**", "docs/*"]), unique=True),
})
_RANK = {"mode": ["dry-run", "live"], "grouping": ["per-repo", "per-service"],
         "rebase_when": ["never", "conflicted", "behind-base"]}


def _looser(org: dict, ov: dict) -> bool:
    if any(k in ov and _RANK[k].index(ov[k]) > _RANK[k].index(org[k]) for k in _RANK):
        return True
    if any(v > org["limits"][k] for k, v in ov.get("limits", {}).items()):
        return True
    return any(e not in org["ignore_emails"] for e in ov.get("ignore_emails", []))


@settings(max_examples=150, deadline=None)
@given(org=_ORG, ov=_OVERRIDE)
def test_any_override_is_either_refused_or_never_louder(org, ov):
    doc = dict(org, overridable=["mode", "packs", "limits", "grouping", "rebase_when", "ignore_emails",
                                 "ignore_paths"], repos={"acme/app": ov})
    text = json.dumps(doc)  # JSON is YAML
    try:
        cfg = OrgConfig.loads(text)
    except OrgConfigError as e:
        assert _looser(org, ov), f"refused a quieter override: {e}"
        assert e.field.startswith('repos["acme/app"]')
        return
    assert not _looser(org, ov)
    base, eff = cfg.for_repo("acme/other"), cfg.for_repo("acme/app")
    for key, order in _RANK.items():
        assert order.index(str(getattr(eff, key))) <= order.index(str(getattr(base, key)))
    assert eff.max_new_prs_per_hour <= base.max_new_prs_per_hour
    assert eff.max_open_prs_per_repo <= base.max_open_prs_per_repo
    assert set(base.packs) <= set(eff.packs)
    assert set(eff.ignore_emails) <= set(base.ignore_emails)
    assert set(base.ignore_paths) <= set(eff.ignore_paths)


# ---------------------------------------------------------------- last good config

def test_broken_config_keeps_the_last_good_one():
    good, err = resolve_config("limits: {max_new_prs_per_hour: 2}\n", last_good=None)
    assert err is None and good.limits.max_new_prs_per_hour == 2
    kept, err = resolve_config("limits: {max_new_prs_per_hour: lots}\n", last_good=good)
    assert kept is good
    assert err is not None and "limits.max_new_prs_per_hour" in err
    assert "last good configuration" in err and "Fix the file and push again" in err


def test_broken_config_without_a_last_good_one_uses_defaults():
    kept, err = resolve_config("mode: maybe\n", last_good=None)
    assert kept == OrgConfig.default() and "built-in defaults" in err


def test_no_file_means_defaults_without_error():
    assert resolve_config(None, last_good=OrgConfig.loads("mode: dry-run\n")) == (OrgConfig.default(), None)


def test_a_looser_override_makes_the_file_broken_and_keeps_the_last_good_one():
    good = OrgConfig.loads("mode: dry-run\n")
    kept, err = resolve_config(_with_override("mode: dry-run\n", "    mode: live\n"), last_good=good)
    assert kept is good and 'repos["acme/app"].mode' in err


def test_last_good_survives_a_round_trip_through_its_source():
    good = OrgConfig.loads(FULL, path="acme/platform:.trustacks/config.yaml")
    again = OrgConfig.loads(good.source, path=good.path)
    assert again == good and hash(again) == hash(good)
    assert again.for_repo("acme/payments") == good.for_repo("acme/payments")
    assert again != OrgConfig.loads(FULL.replace("max_new_prs_per_hour: 4", "max_new_prs_per_hour: 3"))


# ---------------------------------------------------------------- helpers used by the handlers

def test_email_globs_take_brackets_literally():
    pat = "*[bot]@users.noreply.github.com"
    assert email_matches("49699333+dependabot[bot]@users.noreply.github.com", pat)
    assert not email_matches("jane.doeb@users.noreply.github.com", pat), "fnmatch would treat [bot] as a class"
    assert email_matches("CI@Acme.io", "ci@acme.io")
    assert email_matches("ci1@acme.io", "ci?@acme.io") and not email_matches("ci12@acme.io", "ci?@acme.io")


def test_ignores_email_combines_server_patterns():
    eff = OrgConfig.loads("ignore_emails: [ci@acme.io]\n").for_repo("acme/app")
    assert eff.ignores_email("ci@acme.io")
    assert not eff.ignores_email("bot@ops.io")
    assert eff.ignores_email("bot@ops.io", extra=["*@ops.io"])


def test_ignores_path():
    eff = OrgConfig.loads("ignore_paths: ['vendor/**', '*.lock']\n").for_repo("acme/app")
    assert eff.ignores_path("vendor/x/y.yaml") and eff.ignores_path("poetry.lock")
    assert not eff.ignores_path("src/poetry.lock") and not eff.ignores_path("src/vendor.py")


@pytest.mark.parametrize("when, conflicted, behind, expected", [
    ("never", True, True, False),
    ("conflicted", False, True, False),
    ("conflicted", True, False, True),
    ("behind-base", False, True, True),
    ("behind-base", False, False, False),
])
def test_should_rebase(when, conflicted, behind, expected):
    eff = OrgConfig.loads(f"rebase_when: {when}\n").for_repo("acme/app")
    assert eff.should_rebase(conflicted=conflicted, behind_base=behind) is expected


# ---------------------------------------------------------------- the schema and the docs

def test_schema_is_valid_and_accepts_the_documented_example():
    jsonschema.Draft202012Validator.check_schema(schema())
    doc = Path(__file__).resolve().parents[2] / "docs" / "configuration-org.md"
    text = doc.read_text(encoding="utf-8")
    example = text.split("```yaml\n", 1)[1].split("```", 1)[0]
    cfg = OrgConfig.loads(example)
    assert cfg.repos, "the documented example shows a repo override"


def test_every_schema_key_is_documented():
    text = (Path(__file__).resolve().parents[2] / "docs" / "configuration-org.md").read_text(encoding="utf-8")
    keys = list(schema()["properties"]) + list(schema()["$defs"]["limits"]["properties"])
    assert [k for k in keys if f"`{k}`" not in text] == []
