"""Which item of a human's list is "the same" as an item the generator wants.

Lists of mappings merge by identity rather than position: GitHub Actions steps by `id`, then `name`,
then the action they `uses` (without its `@ref`, so a version bump is an update, not a new step);
Kubernetes containers, env vars, ports and volumes by `name`. Jobs, services and other keyed
collections are mappings and need no rule. Items with no identity key match by whole value, as do
scalars. Documents of a multi-document file match by Kubernetes kind/namespace/name, else by position.
"""

from __future__ import annotations

from typing import Any, Callable

from bot.merge.yamldoc import MAP, SCALAR, Node, canon

#: Identity keys in order of precedence; the first one both items carry decides.
IDENTITY_KEYS: tuple[str, ...] = ("id", "name", "uses", "containerPort", "mountPath")


def _key_value(item: Node, key: str, resolve: Callable[[str], Any]) -> Any:
    entry = item.index.get(key)
    if entry is None:
        return None
    value = canon(entry[1], resolve)
    if key == "uses" and isinstance(value, str):
        value = value.split("@", 1)[0]
    return value


def identity_keys(item: Node, resolve: Callable[[str], Any]) -> dict[str, Any]:
    """The identity keys an item carries, with their (normalised) values."""
    item = item.deref()
    if item.kind != MAP:
        return {}
    return {k: v for k in IDENTITY_KEYS if (v := _key_value(item, k, resolve)) is not None}


def label(item: Node, resolve: Callable[[str], Any], position: int) -> str:
    """How a list item is named in a note: `[name=Build]`, `[main]` or `[3]`."""
    keys = identity_keys(item, resolve)
    for key, value in keys.items():
        return f"[{key}={value}]"
    target = item.deref()
    if target.kind == SCALAR and isinstance(canon(target, resolve), str) and len(target.value) <= 40:
        return f"[{target.value}]"
    return f"[{position}]"


def match(
    left: list[Node], right: list[Node], resolve: Callable[[str], Any], *, by_shape: bool = False
) -> list[int | None]:
    """For each item of `left`, the index of its counterpart in `right` (or None); one-to-one, in order.

    `by_shape` (used only against the base) also pairs leftover mappings without identity keys that
    have the same set of keys, in order: the generator's `- git: {...}` whose URL changed is the
    same item as the one it generated last time, not a removal plus an addition.
    """
    result: list[int | None] = [None] * len(left)
    taken = [False] * len(right)
    left_ids = [identity_keys(i, resolve) for i in left]
    right_ids = [identity_keys(i, resolve) for i in right]

    # pass 1: the primary identity (first identity key, or the whole value) via a hash lookup
    buckets: dict[Any, list[int]] = {}
    for j, item in enumerate(right):
        buckets.setdefault(_primary(right_ids[j], item, resolve), []).append(j)
    for i, item in enumerate(left):
        for j in buckets.get(_primary(left_ids[i], item, resolve), ()):
            if not taken[j]:
                taken[j] = True
                result[i] = j
                break

    # pass 2: items whose primary keys differ but which share another identity key (an `id` added)
    for i, ids in enumerate(left_ids):
        if result[i] is not None or not ids:
            continue
        for j, other in enumerate(right_ids):
            if taken[j] or not other:
                continue
            shared = next((k for k in IDENTITY_KEYS if k in ids and k in other), None)
            if shared is not None and ids[shared] == other[shared]:
                taken[j] = True
                result[i] = j
                break

    # pass 3 (optional): anonymous records of the same shape, in order
    if by_shape:
        for i, item in enumerate(left):
            shape = _shape(item) if result[i] is None and not left_ids[i] else None
            if shape is None:
                continue
            for j, other in enumerate(right):
                if not taken[j] and not right_ids[j] and _shape(other) == shape:
                    taken[j] = True
                    result[i] = j
                    break
    return result


def _shape(item: Node) -> frozenset[Any] | None:
    item = item.deref()
    return frozenset(item.index) if item.kind == MAP else None


def _primary(ids: dict[str, Any], item: Node, resolve: Callable[[str], Any]) -> Any:
    for key, value in ids.items():
        return (key, value)
    return ("=", canon(item, resolve))


def document_identity(root: Node | None, resolve: Callable[[str], Any]) -> Any:
    """(kind, namespace, name) for a Kubernetes-style document, else None (match by position)."""
    if root is None:
        return None
    root = root.deref()
    if root.kind != MAP:
        return None
    kind = root.index.get("kind")
    meta = root.index.get("metadata")
    if kind is None or meta is None or meta[1].deref().kind != MAP:
        return None
    meta_node = meta[1].deref()
    name = meta_node.index.get("name")
    if name is None:
        return None
    namespace = meta_node.index.get("namespace")
    return (
        canon(kind[1], resolve),
        canon(namespace[1], resolve) if namespace else None,
        canon(name[1], resolve),
    )


def match_documents(left: list[Node], right: list[Node], resolve: Callable[[str], Any]) -> list[int | None]:
    """Pair the documents of two streams (roots given): one each, by position; else by Kubernetes
    identity, then by kind and name (a namespace change is an update), then by position among the
    documents that have no identity."""
    if len(left) == 1 and len(right) == 1:
        return [0]
    result: list[int | None] = [None] * len(left)
    taken: set[int] = set()
    left_ids = [document_identity(n, resolve) for n in left]
    right_ids = [document_identity(n, resolve) for n in right]
    for key in (lambda i: i, lambda i: (i[0], i[2])):
        for li, lid in enumerate(left_ids):
            if result[li] is not None or lid is None:
                continue
            for ri, rid in enumerate(right_ids):
                if ri not in taken and rid is not None and key(rid) == key(lid):
                    result[li] = ri
                    taken.add(ri)
                    break
    anonymous = [ri for ri, rid in enumerate(right_ids) if rid is None]
    for li, lid in enumerate(left_ids):
        if lid is None and anonymous:
            result[li] = anonymous.pop(0)
    return result
