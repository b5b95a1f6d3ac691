"""`merge_file`: decide how one generated file meets the file already in the repo.

The order of the checks is the contract (issue #5):

1. no file: create it with the generator's text;
2. the file already equals the generator's text: nothing to do;
3. plain YAML: both texts must parse (a file that does not is reported with the parser's message and
   never rewritten; a generator output that does not is a generator bug, reported the same way);
4. the file is byte-identical to the base (nobody touched it): take the generator's text exactly;
5. the generator's text equals the base (it has nothing new): keep the file as it is;
6. otherwise merge: structurally for YAML (`yamlmerge`), line-wise for everything else (`textmerge`).

Which strategy a path gets is decided by `strategy_for`, listed in `STRATEGIES`.
"""

from __future__ import annotations

import re

from bot.merge import messages as msg
from bot.merge.result import MergeMode, MergeResult
from bot.merge.segments import skippable_keys, split
from bot.merge.splice import newline_of, normalize_newlines, split_bom
from bot.merge.textmerge import TextMergeError, merge_text
from bot.merge.yamldoc import Parsed, YamlError, make_resolver, parse
from bot.merge.yamlmerge import merge_yaml

#: Merge strategies, one per kind of file; `strategy_for` picks one per path.
STRATEGIES: tuple[str, ...] = ("yaml", "text")

YAML_SUFFIXES = (".yml", ".yaml")
# `{{` not preceded by `$`: Helm/Go templates and Jinja, but not GitHub Actions' `${{ expr }}`
_TEMPLATE = re.compile(r"(?<!\$)\{\{")


def strategy_for(path: str, *texts: str | None) -> str:
    """"yaml" for YAML files; "text" for anything else and for templated YAML.

    A `.yaml` file containing `{{ }}` (Helm, Jinja; not GitHub Actions' `${{ }}`) is a template when it
    lives under a `templates/` directory or when it does not parse as YAML: it merges line-wise. A
    file whose `{{ }}` sit inside quoted values is plain YAML and merges structurally.
    """
    if not path.lower().endswith(YAML_SUFFIXES):
        return "text"
    templated = [t for t in texts if t and _TEMPLATE.search(t)]
    if not templated:
        return "yaml"
    if "templates" in path.replace("\\", "/").split("/")[:-1]:
        return "text"
    for text in templated:
        try:
            parse(_lf(text))
        except YamlError:
            return "text"
    return "yaml"


def merge_file(path: str, *, current: str | None, base: str | None, generated: str) -> MergeResult:
    """Merge the generator's new output for `path` into the file the repo has now.

    `current` is the file in the repo (None: absent); `base` is what the bot last generated for it
    (None: unknown, e.g. `GeneratedLock.base_for` found nothing or a hash mismatch); `generated` is
    the generator's new output.
    """
    if current is not None and current == generated:
        strategy = strategy_for(path, current)
        return MergeResult(None, False, MergeMode.UNCHANGED, strategy=strategy, original=current)
    strategy = strategy_for(path, current, generated)
    if strategy == "text":
        if current is None:
            return MergeResult(generated, True, MergeMode.CREATE, strategy=strategy)
        return _merge_text(path, current=current, base=base, generated=generated)
    return _merge_yaml(path, current=current, base=base, generated=generated)


def _merge_yaml(path: str, *, current: str | None, base: str | None, generated: str) -> MergeResult:
    resolve = make_resolver()
    bom, body = split_bom(current) if current is not None else ("", None)
    gen_text = _lf(generated)
    base_text = _lf(base) if base is not None else None
    # top-level entries that only one side changed (or neither) need no nodes
    splits = [split(t) if t is not None and body is not None else None for t in (body, gen_text, base_text)]
    skip = skippable_keys(body, gen_text, base_text, segments=splits) if body is not None else frozenset()
    try:
        gen = parse(gen_text, resolve=resolve, skip=skip, segments=splits[1])
    except YamlError as exc:
        return MergeResult(
            None, False, MergeMode.ERROR, strategy="yaml", original=current,
            error=msg.GENERATED_INVALID.format(path=path, why=exc),
        )
    if current is None or body is None:
        return MergeResult(generated, True, MergeMode.CREATE, strategy="yaml")
    try:
        cur = parse(body, resolve=resolve, skip=skip, segments=splits[0])
    except YamlError as exc:
        return MergeResult(None, False, MergeMode.ERROR, error=str(exc), strategy="yaml", original=current)
    if base is not None and current == base:
        return MergeResult(generated, True, MergeMode.THREE_WAY, strategy="yaml", original=current)
    if base is not None and base == generated:
        return MergeResult(None, False, MergeMode.UNCHANGED, strategy="yaml", original=current)
    base_doc: Parsed | None = None
    if base_text is not None:
        try:
            base_doc = parse(base_text, resolve=resolve, skip=skip, segments=splits[2])
        except YamlError:
            base_doc = None  # cannot happen for a verified base; fall back to preserve mode
    parsed = [p for p in (cur, gen, base_doc) if p is not None]
    if skip and not all(p.segmented for p in parsed):
        # stubs only compare with stubs: if one text had to be parsed whole, parse them all whole
        cur, gen = parse(body, resolve=resolve), parse(gen_text, resolve=resolve)
        base_doc = parse(base_text, resolve=resolve) if base_doc is not None and base_text is not None else None
    mode = MergeMode.THREE_WAY if base_doc is not None else MergeMode.PRESERVE
    outcome = merge_yaml(path, current=cur, base=base_doc, generated=gen, newline=newline_of(body))
    content = bom + outcome.content if outcome.content is not None else None
    return MergeResult(
        content, content is not None, mode, notes=outcome.notes, conflicts=outcome.conflicts,
        strategy="yaml", original=current,
    )


def _merge_text(path: str, *, current: str, base: str | None, generated: str) -> MergeResult:
    if base is not None and current == base:
        return MergeResult(generated, True, MergeMode.THREE_WAY, strategy="text", original=current)
    if base is not None and base == generated:
        return MergeResult(None, False, MergeMode.UNCHANGED, strategy="text", original=current)
    mode = MergeMode.THREE_WAY if base is not None else MergeMode.PRESERVE
    try:
        outcome = merge_text(path, current=current, base=base, generated=generated)
    except TextMergeError as exc:
        return MergeResult(None, False, MergeMode.ERROR, error=str(exc), strategy="text", original=current)
    return MergeResult(
        outcome.content, outcome.content is not None, mode, notes=outcome.notes,
        conflicts=outcome.conflicts, strategy="text", original=current,
    )


def _lf(text: str) -> str:
    return normalize_newlines(split_bom(text)[1])
