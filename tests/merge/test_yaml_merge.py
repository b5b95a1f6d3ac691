"""Focused behaviours of the structural YAML merge: what is kept, what is spliced, what is refused."""

from __future__ import annotations

import pytest

from bot.merge import merge_file
from bot.merge import yamlmerge
from bot.merge.identity import match
from bot.merge.splice import Edit, OverlapError, apply_edits
from bot.merge.yamldoc import parse

from .helpers import load, load_all

P = "values.yaml"


def three_way(current: str, base: str, generated: str, path: str = P):
    return merge_file(path, current=current, base=base, generated=generated)


# --------------------------------------------------------------------------- modes


def test_absent_file_is_created_with_the_generator_text() -> None:
    result = merge_file(P, current=None, base=None, generated="a: 1\n")
    assert (result.mode, result.content, result.changed) == ("create", "a: 1\n", True)


def test_equal_file_is_unchanged_and_nothing_is_written() -> None:
    result = merge_file(P, current="a: 1\n", base="a: 0\n", generated="a: 1\n")
    assert (result.mode, result.content, result.changed, result.final) == ("unchanged", None, False, "a: 1\n")


def test_generator_output_unchanged_since_base_keeps_every_human_edit() -> None:
    result = three_way("a: 2  # mine\nb: 3\n", "a: 1\n", "a: 1\n")
    assert result.mode == "unchanged" and result.content is None and result.final == "a: 2  # mine\nb: 3\n"


def test_unparseable_file_is_reported_with_the_parser_message_and_never_rewritten() -> None:
    current = "a: [1, 2\nb: 3\n"
    for base in (None, "a: [1]\n", current):
        result = merge_file(P, current=current, base=base, generated="a: [1, 2, 3]\n")
        assert result.mode == "error" and result.content is None and not result.changed
        assert "line" in result.error and "flow sequence" in result.error
        assert result.final == current


def test_duplicate_keys_are_refused_like_ruamel_does() -> None:
    result = merge_file(P, current="a: 1\na: 2\n", base=None, generated="a: 3\n")
    assert result.mode == "error" and "duplicate key" in result.error


def test_generator_output_that_does_not_parse_is_an_error_not_a_proposal() -> None:
    result = merge_file(P, current=None, base=None, generated="a: {\n")
    assert result.mode == "error" and result.content is None and "does not parse" in result.error


def test_file_of_comments_only_gets_the_generator_content_after_them() -> None:
    result = merge_file(P, current="# placeholder\n", base=None, generated="a: 1\n")
    assert result.content == "# placeholder\na: 1\n"


# --------------------------------------------------------------------------- splicing keeps the human's text


def test_quoting_style_of_the_human_is_kept_when_the_value_allows_it() -> None:
    base = "cfg:\n  a: '1.0'\n  b: \"x\"\n  c: v1\n  d: yes\n"
    generated = "cfg:\n  a: \"2.0\"\n  b: 'y'\n  c: \"v2\"\n  d: \"true\"\n"
    current = base.replace("d: yes", "d: yes  # comment")
    result = three_way(current, base, generated)
    assert result.content == "cfg:\n  a: '2.0'\n  b: \"y\"\n  c: v2\n  d: \"true\"  # comment\n"
    assert load(result.content) == load(generated)


def test_top_level_entry_the_human_left_alone_takes_the_generator_text_whole() -> None:
    base = "a:\n  x: '1'\n\n# about b\nb: 1\n"
    current = base.replace("b: 1", "b: 2")
    generated = "a:\n  x: \"2\"\n  y: 3\n\n# about b\nb: 1\n"
    result = three_way(current, base, generated)
    assert result.content == "a:\n  x: \"2\"\n  y: 3\n\n# about b\nb: 2\n"


def test_flow_collections_are_edited_in_place() -> None:
    base = "cfg:\n  a: [ x, y ]\n  b: {k: 1}\n  c: []\n  d: {}\n"
    current = base + "  # mine\n"
    generated = "cfg:\n  a: [x, z]\n  b: {k: 1, j: 2}\n  c: [1, 2]\n  d: {e: f}\n"
    result = three_way(current, base, generated)
    assert result.content == "cfg:\n  a: [ x, z ]\n  b: {k: 1, j: 2}\n  c: [1, 2]\n  d: {e: f}\n  # mine\n"


def test_empty_value_gets_a_value_after_the_colon() -> None:
    result = merge_file(P, current="a:\nb: 1\n", base="a:\nb: 0\n", generated="a: x\nb: 0\n")
    assert result.content == "a: x\nb: 1\n"


def test_crlf_file_gets_crlf_lines_and_keeps_them_everywhere() -> None:
    current = "a: 1\r\nlist:\r\n  - x\r\n"
    result = merge_file(P, current=current, base=None, generated="a: 1\nlist:\n  - x\n  - y\nb:\n  c: 2\n")
    assert result.content == "a: 1\r\nlist:\r\n  - x\r\n  - y\r\nb:\r\n  c: 2\r\n"


def test_bom_is_kept() -> None:
    current = "\ufeffa: 1  # one\n"
    result = merge_file(P, current=current, base="a: 1\n", generated="a: 2\n")
    assert result.content == "\ufeffa: 2  # one\n"


def test_file_without_final_newline_grows_without_gluing_lines() -> None:
    result = merge_file(P, current="a: 1\nb: 2", base=None, generated="a: 1\nb: 2\nc: 3\n")
    assert load(result.content) == {"a": 1, "b": 2, "c": 3}


def test_block_scalar_replaced_as_a_whole_entry() -> None:
    base = "run: |\n  make\n  make test\nnext: 1\n"
    current = "# ci\n" + base
    generated = "run: |\n  make all\nnext: 1\n"
    result = three_way(current, base, generated)
    assert result.content == "# ci\nrun: |\n  make all\nnext: 1\n"


def test_value_type_change_rewrites_the_entry_at_the_human_indentation() -> None:
    base = "outer:\n    inner: 1\n    other: x\n"
    current = base.replace("other: x", "other: x  # keep")
    generated = "outer:\n  inner:\n    deep: true\n  other: x\n"
    result = three_way(current, base, generated)
    assert result.content == "outer:\n    inner:\n      deep: true\n    other: x  # keep\n"


# --------------------------------------------------------------------------- keys and lists


def test_preserve_mode_keeps_every_value_and_never_removes() -> None:
    current = "a: 1\nmine: true\n"
    result = merge_file(P, current=current, base=None, generated="a: 2\nnew: x\n")
    assert load(result.content) == {"a": 1, "mine": True, "new": "x"}
    assert [n.key for n in result.notes] == ["a"] and not result.conflicts
    assert "`1`" in result.notes[0].message and "`2`" in result.notes[0].message


def test_key_the_human_removed_stays_removed_and_a_change_to_it_is_reported() -> None:
    base = "a: 1\nb: 1\n"
    result = three_way("a: 1\n", base, "a: 1\nb: 2\n")
    assert result.content is None and [n.key for n in result.conflicts] == ["b"]
    quiet = three_way("a: 1\n", base, "a: 2\nb: 1\n")
    assert quiet.content == "a: 2\n" and not quiet.conflicts


def test_new_steps_land_after_their_predecessor_and_versions_update_in_place() -> None:
    base = "steps:\n  - uses: actions/checkout@v3\n  - name: Test\n    run: make test\n"
    current = base + "  - name: Mine\n    run: echo hi\n"
    generated = (
        "steps:\n  - uses: actions/checkout@v4\n  - name: Lint\n    run: make lint\n"
        "  - name: Test\n    run: make test\n"
    )
    result = three_way(current, base, generated)
    assert [s.get("name", s.get("uses")) for s in load(result.content)["steps"]] == [
        "actions/checkout@v4", "Lint", "Test", "Mine"
    ]


def test_generator_reorder_of_an_untouched_list_is_taken() -> None:
    base = "order: [a, b, c]\nx: 1\n"
    result = three_way(base.replace("x: 1", "x: 2"), base, "order: [c, a, b]\nx: 1\n")
    assert load(result.content) == {"order": ["c", "a", "b"], "x": 2}


def test_human_order_wins_when_the_human_also_changed_the_list() -> None:
    base = "order:\n  - a\n  - b\n"
    result = three_way("order:\n  - b\n  - a\n  - mine\n", base, "order:\n  - a\n  - b\n  - new\n")
    assert load(result.content) == {"order": ["b", "a", "mine", "new"]}


def test_removed_items_and_keys_go_with_their_lines() -> None:
    base = "env:\n  - name: A\n    value: '1'\n  - name: B\n    value: '2'\nold: 1\nkeep: 2\n"
    current = base.replace("keep: 2", "keep: 3")
    result = three_way(current, base, "env:\n  - name: A\n    value: '1'\nkeep: 2\n")
    assert result.content == "env:\n  - name: A\n    value: '1'\nkeep: 3\n"


def test_every_entry_removed_leaves_an_empty_collection_not_a_null() -> None:
    base = "a:\n  x: 1\nb:\n  - 1\nc: 0\n"
    result = three_way(base.replace("c: 0", "c: 1"), base, "a: {}\nb: []\nc: 0\n")
    assert load(result.content) == {"a": {}, "b": [], "c": 1}


# --------------------------------------------------------------------------- anchors and aliases


def test_value_shared_through_an_anchor_is_never_edited_in_place() -> None:
    current = "defaults: &d\n  image: app:1\nprod:\n  <<: *d\n"
    generated = "defaults:\n  image: app:2\nprod:\n  image: app:1\n"
    result = three_way(current, "defaults:\n  image: app:1\nprod:\n  image: app:1\n", generated)
    assert result.content is None
    assert [n.key for n in result.conflicts] == ["defaults"] and "&d" in result.conflicts[0].message


def test_inherited_value_changed_by_the_generator_becomes_a_local_override() -> None:
    current = "base: &b\n  replicas: 1\napp:\n  <<: *b\n  image: x\n"
    base = "base:\n  replicas: 1\napp:\n  replicas: 1\n  image: x\n"
    generated = "base:\n  replicas: 1\napp:\n  replicas: 3\n  image: x\n"
    result = three_way(current, base, generated)
    assert load(result.content) == load(generated)
    assert result.content.startswith("base: &b\n  replicas: 1\napp:\n  <<: *b\n")


def test_alias_the_human_did_not_change_can_be_replaced() -> None:
    current = "a: &x 1\nb: *x\n"
    result = three_way(current, "a: 1\nb: 1\n", "a: 1\nb: 2\n")
    assert result.content == "a: &x 1\nb: 2\n"


# --------------------------------------------------------------------------- multi-document files


def test_documents_match_by_kind_and_name_even_when_reordered() -> None:
    cm = "kind: ConfigMap\nmetadata:\n  name: a\ndata:\n  k: v\n"
    svc = "kind: Service\nmetadata:\n  name: a\nspec:\n  port: 80\n"
    current = f"{svc}---\n{cm}"
    generated = f"{cm.replace('k: v', 'k: w')}---\n{svc}"
    result = merge_file(P, current=current, base=f"{cm}---\n{svc}", generated=generated)
    assert result.content == f"{svc}---\n{cm.replace('k: v', 'k: w')}"


# --------------------------------------------------------------------------- safety nets


def test_a_merge_whose_result_would_not_parse_keeps_the_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(yamlmerge, "apply_edits", lambda text, edits: text + "a: [\n")
    result = merge_file(P, current="a: 1\n", base=None, generated="a: 1\nb: 2\n")
    assert result.content is None and not result.changed
    assert [n.key for n in result.conflicts] == ["(file)"] and "did not parse" in result.conflicts[0].message


def test_overlapping_edits_are_refused() -> None:
    with pytest.raises(OverlapError):
        apply_edits("abcdef", [Edit(0, 3, "x"), Edit(2, 4, "y")])
    assert apply_edits("abcdef", [Edit(2, 2, "+", order=1), Edit(2, 2, "-", order=0), Edit(4, 6, "")]) == "ab-+cd"


# --------------------------------------------------------------------------- identity


def _items(text: str):
    parsed = parse(text)
    return parsed.docs[0].root.items, parsed.resolve


def test_identity_prefers_id_then_name_then_uses_without_ref() -> None:
    left, resolve = _items("- id: build\n  name: B\n- name: Test\n- uses: actions/checkout@v4\n- run: make\n")
    right, _ = _items("- run: make\n- uses: actions/checkout@v3\n- name: Test\n  id: t\n- id: build\n")
    assert match(left, right, resolve) == [3, 2, 1, 0]


def test_identity_pairs_records_only_one_to_one() -> None:
    left, resolve = _items("- name: A\n- name: A\n- name: B\n")
    right, _ = _items("- name: A\n- name: C\n")
    assert match(left, right, resolve) == [0, None, None]


def test_shape_pairing_is_opt_in() -> None:
    left, resolve = _items("- git: {url: a}\n")
    right, _ = _items("- git: {url: b}\n- other: 1\n")
    assert match(left, right, resolve) == [None]
    assert match(left, right, resolve, by_shape=True) == [0]


def test_multi_document_results_read_back() -> None:
    current = "# head\n---\na: 1\n---\nb: 2\n...\n"
    result = merge_file(P, current=current, base=None, generated="a: 1\n---\nb: 2\n---\nc: 3\n")
    assert load_all(result.content) == [{"a": 1}, {"b": 2}, {"c": 3}]
    assert result.content.startswith(current)
