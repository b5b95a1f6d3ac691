"""Discovery speed against the I/O floor, measured in the same run.

    .venv/bin/python benchmarks/bench_discovery.py            # synthetic 50,000-file monorepo in a temp dir
    .venv/bin/python benchmarks/bench_discovery.py PATH       # any repository on disk
    .venv/bin/python benchmarks/bench_discovery.py --files 5000

The floor is what no discovery can avoid: listing the tree and reading the files discovery read (the same
files, through the same DirTree). The ratio discovery / floor is the cost of classification, parsing and
matching. Goal: <= 1.5x. Each side is measured `--rounds` times after a warm-up; medians are compared.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.discovery import discover  # noqa: E402
from bot.tree import DirTree  # noqa: E402

GOAL = 1.5
MAX_GENERATE_SECONDS = 120.0

_PY = '"""Module {i}."""\n\n\ndef handler_{i}(event: dict) -> dict:\n    return {{"id": {i}, "ok": True}}\n'
_GO = "package svc\n\nfunc Handler{i}() int {{\n\treturn {i}\n}}\n"
_TS = "export function handler{i}(x: number): number {{\n  return x + {i};\n}}\n"


def generate(root: Path, files: int) -> int:
    """A monorepo of services, ~200 files each: sources plus the manifests a real service carries."""
    rng = random.Random(7)
    start = time.monotonic()
    written = 0
    per_service = 200
    services = max(1, files // per_service)

    def put(rel: str, text: str) -> None:
        nonlocal written
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
        written += 1

    for s in range(services):
        if time.monotonic() - start > MAX_GENERATE_SECONDS:
            break
        kind = ("python", "go", "node")[s % 3]
        base = f"services/svc{s:04d}"
        image = f"123456789012.dkr.ecr.us-east-1.amazonaws.com/platform/svc{s:04d}"
        if kind == "python":
            put(f"{base}/pyproject.toml", f'[project]\nname = "svc{s}"\nrequires-python = ">=3.12"\n'
                'dependencies = ["fastapi>=0.111", "prometheus-client>=0.20"]\n')
            put(f"{base}/Dockerfile", "FROM python:3.12-slim\nCOPY . /app\nEXPOSE 8000\n"
                'CMD ["uvicorn", "app.main:app", "--port", "8000"]\n')
        elif kind == "go":
            put(f"{base}/go.mod", f"module example.com/svc{s}\n\ngo 1.22\n")
            put(f"{base}/main.go", 'package main\n\nfunc main() { http.ListenAndServe(":8080", nil) }\n')
            put(f"{base}/Dockerfile", "FROM golang:1.22 AS b\nRUN go build -o /s .\nFROM gcr.io/distroless/static\nEXPOSE 8080\n")
        else:
            put(f"{base}/package.json", '{"name": "svc", "engines": {"node": ">=20"}, "dependencies": {"express": "^4.19.2"}}\n')
            put(f"{base}/Dockerfile", "FROM node:20-alpine\nCOPY . .\nEXPOSE 3000\nCMD [\"node\", \"server.js\"]\n")
        put(f"{base}/k8s/deployment.yaml",
            f"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: svc{s}\n  annotations:\n"
            f"    prometheus.io/scrape: \"true\"\nspec:\n  template:\n    spec:\n      containers:\n"
            f"        - name: app\n          image: {image}:1.{s}.0\n          ports:\n            - containerPort: 8080\n")
        put(f"{base}/k8s/service.yaml", f"apiVersion: v1\nkind: Service\nmetadata:\n  name: svc{s}\nspec:\n"
            "  ports:\n    - port: 80\n      targetPort: 8080\n")
        put(f"{base}/k8s/ingress.yaml", f"apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: svc{s}\n"
            "spec:\n  ingressClassName: nginx\n")
        put(f"{base}/README.md", f"# svc{s}\n\nOwned by team {rng.randint(1, 40)}.\n")
        put(f".github/workflows/svc{s:04d}.yml",
            f"name: svc{s}\non:\n  push:\n    paths: ['{base}/**']\njobs:\n  build:\n    runs-on: ubuntu-latest\n"
            "    steps:\n      - uses: actions/checkout@v4\n      - uses: aws-actions/amazon-ecr-login@v2\n"
            f"      - run: docker build -t {image}:${{{{ github.sha }}}} {base}\n"
            "      - uses: aquasecurity/trivy-action@0.24.0\n")
        n = 0
        while n < per_service - 8:
            ext, tmpl = {"python": (".py", _PY), "go": (".go", _GO), "node": (".ts", _TS)}[kind]
            put(f"{base}/src/pkg{n // 25}/mod{n}{ext}", tmpl.format(i=n))
            n += 1
    put("deploy/argocd/apps.yaml", "apiVersion: argoproj.io/v1alpha1\nkind: ApplicationSet\nmetadata:\n"
        "  name: services\n  namespace: argocd\nspec:\n  generators: []\n")
    return written


class _Recording(DirTree):
    """A DirTree that remembers what was read, so the floor reads exactly the same files."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.read_paths: list[str] = []

    def read(self, path: str) -> bytes | None:
        self.read_paths.append(path)
        return super().read(path)


def floor(root: Path, paths: list[str]) -> float:
    t = time.perf_counter()
    tree = DirTree(root)
    tree.paths()
    for p in paths:
        tree.read(p)
    return time.perf_counter() - t


def run(root: Path, rounds: int) -> float:
    warm = _Recording(root)
    result = discover(warm, repo="bench/monorepo", max_seconds=600)
    read = list(dict.fromkeys(warm.read_paths))
    floors, runs = [], []
    for _ in range(rounds):
        floors.append(floor(root, read))
        t = time.perf_counter()
        discover(DirTree(root), repo="bench/monorepo", max_seconds=600)
        runs.append(time.perf_counter() - t)
    f, d = statistics.median(floors), statistics.median(runs)
    ratio = d / f if f > 0 else float("inf")
    print(f"tree: {root}")
    print(f"files listed: {result.files_listed}, files read: {len(read)}, findings: {len(result.findings)}, "
          f"services: {len(result.services)}, complete: {result.complete}")
    print(f"I/O floor (list + read same files): {f * 1000:.0f} ms   discovery: {d * 1000:.0f} ms   (median of {rounds})")
    print(f"ratio discovery / floor: {ratio:.2f}x  (goal <= {GOAL}x: {'met' if ratio <= GOAL else 'NOT met'})")
    return ratio


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("path", nargs="?", help="a repository to measure (default: a synthetic monorepo)")
    ap.add_argument("--files", type=int, default=50_000, help="size of the synthetic monorepo")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    if args.path:
        run(Path(args.path), args.rounds)
        return
    tmp = Path(tempfile.mkdtemp(prefix="trustacks-bench-"))
    try:
        t = time.monotonic()
        n = generate(tmp, args.files)
        print(f"generated {n} files in {time.monotonic() - t:.1f}s")
        run(tmp, args.rounds)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
