"""Trust artifacts against their floors, measured in the same run.

    .venv/bin/python benchmarks/bench_trust.py               # 100 policy files of ~2.4 KB, 500 audit records
    .venv/bin/python benchmarks/bench_trust.py --rounds 5

- verify_bundle vs. the floor of reading the same tar.gz into memory with no checks (tarfile): the
  ratio is the cost of the safety checks, JWT verification and OPA-style hashing. Goal: <= 3x.
- AuditLog.append vs. plain SQLite inserts of the same JSON (one transaction each): the ratio is the
  cost of canonical JSON, redaction, hashing and the write lock. Goal: <= 3x. verify() is reported per
  record.
- lint_overlay vs. PolicyEngine.load + run_tests of the same layers in-process: the ratio is the cost
  of the child processes (parse under a timeout, upper tests with and without the overlay) and the
  AST checks. Reported, no goal: it runs once per overlay change, not per proposal.
Each side is measured `--rounds` times after a warm-up; medians are compared.
"""

from __future__ import annotations

import argparse
import io
import json
import sqlite3
import statistics
import sys
import tarfile
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.audit import AuditLog  # noqa: E402
from bot.policy import bundle, keys  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "fixtures" / "overlays"
GOAL_BUNDLE = 3.0
GOAL_AUDIT = 3.0

_RULE = """package trustacks.packs.bench.r{i}

import rego.v1

metadata := {{"id": "BENCH-{i:03d}", "title": "rule {i}", "severity": "low", "description": "d", "remediation": "r"}}

deny contains {{"rule": "BENCH-{i:03d}", "msg": msg}} if {{
	some f in input.facts.files
	startswith(f.path, "src/{i}/")
	msg := sprintf("%s is not allowed ({i})", [f.path])
}}
"""


def _median(fn, rounds: int) -> float:
    fn()
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def bench_bundle(tmp: Path, rounds: int) -> tuple[float, float]:
    src = tmp / "layer"
    src.mkdir()
    for i in range(100):
        text = _RULE.format(i=i)
        (src / f"r{i}.rego").write_text(text + "# " + "x" * max(0, 2400 - len(text)) + "\n")
    (src / "data.json").write_text(json.dumps({"limits": {f"k{i}": i for i in range(200)}}))
    priv, pub = keys.generate_keypair()
    out = bundle.build_bundle(src, revision="1.0.0", roots=["trustacks/packs/bench"], out=tmp / "b.tar.gz")
    bundle.sign_bundle(out, private_key_pem=priv)

    def floor() -> None:
        with tarfile.open(out, "r:gz") as tar:
            {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}

    verify = _median(lambda: bundle.verify_bundle(out, public_key_pem=pub), rounds)
    return verify, _median(floor, rounds)


def bench_audit(tmp: Path, rounds: int, records: int) -> tuple[float, float, float]:
    record = {"kind": "decision", "verdict": "deny", "input_digest": "a" * 64, "bundle_revisions": {"constitution": "1.0.0"},
              "rules_cited": ["TS-PROC-001", "SOC2-CC6.1-002"], "actor": "trustacks[bot]", "delivery_id": "d",
              "files": [{"path": "a.py", "content": "x" * 400}]}

    def ours() -> None:
        path = tmp / f"audit-{time.perf_counter_ns()}.db"
        with AuditLog(path) as log:
            for _ in range(records):
                log.append(record)

    def floor() -> None:
        conn = sqlite3.connect(tmp / f"plain-{time.perf_counter_ns()}.db", isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")  # as AuditLog configures the databases it opens
        conn.execute("CREATE TABLE t (seq INTEGER PRIMARY KEY, record TEXT)")
        text = json.dumps(record)
        for _ in range(records):
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("INSERT INTO t (record) VALUES (?)", (text,))
            conn.execute("COMMIT")
        conn.close()

    appended = _median(ours, rounds)
    plain = _median(floor, rounds)
    path = tmp / "verify.db"
    with AuditLog(path) as log:
        for _ in range(records):
            log.append(record)
        verify = _median(log.verify, rounds)
    return appended, plain, verify


def bench_lint(rounds: int) -> tuple[float, float]:
    from bot.policy.engine import PolicyEngine
    from bot.policy.lint import lint_overlay, load_upper

    upper_dir = FIXTURES / "upper"
    overlay = FIXTURES / "good" / "all_together"
    upper = load_upper(upper_dir)
    lint = _median(lambda: lint_overlay(overlay, upper=upper), rounds)
    load = _median(lambda: PolicyEngine.load(rules_dir=upper_dir, packs=["legacy"], overlay_dir=overlay, isolate=False).run_tests(), rounds)
    return lint, load


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--records", type=int, default=500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        verify, floor = bench_bundle(Path(tmp), args.rounds)
        appended, plain, chain = bench_audit(Path(tmp), max(1, args.rounds // 2), args.records)
    lint, load = bench_lint(args.rounds)
    rb, ra = verify / floor, appended / plain
    print(f"bundle verify (100 files):   {verify * 1000:8.1f} ms   floor {floor * 1000:7.1f} ms   ratio {rb:5.2f}x (goal <= {GOAL_BUNDLE}x)")
    print(f"audit append ({args.records} records): {appended * 1000:8.1f} ms   floor {plain * 1000:7.1f} ms   ratio {ra:5.2f}x (goal <= {GOAL_AUDIT}x)")
    print(f"audit verify ({args.records} records): {chain * 1000:8.1f} ms   {chain / args.records * 1e6:6.1f} us/record")
    print(f"lint overlay (fixture):      {lint * 1000:8.1f} ms   engine load+tests {load * 1000:7.1f} ms   ratio {lint / load:5.2f}x")
    return 0 if rb <= GOAL_BUNDLE and ra <= GOAL_AUDIT else 1


if __name__ == "__main__":
    raise SystemExit(main())
