"""`python -m bench.compare BEFORE [AFTER]`: the benchmark of two commits, alternating.

Each commit is checked out in its own worktree with its own virtualenv (made once, kept
under var/compare/), then `python -m bench` runs for BEFORE, AFTER, BEFORE, AFTER, … on
the same database and Redis db, so a drift of the shared machine falls on both alike.
Prints each run's key figures and the per-commit medians; writes them all to
bench/results/compare.json.
"""

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "var" / "compare"

FIGURES = {
    "throughput ÷ floor": lambda r: r["ratios"]["throughput_over_celery_floor"],
    "drain ÷ floor": lambda r: r["ratios"]["drain_over_celery_floor"],
    "throughput /s": lambda r: r["throughput"]["per_second"],
    "emit /s": lambda r: r["throughput"]["emit_per_second"],
    "drain /s": lambda r: r["drain"]["per_second"],
    "celery floor /s": lambda r: r["celery_floor"]["per_second"],
    "latency p50 ms": lambda r: r["latency"]["p50_ms"],
    "latency p99 ms": lambda r: r["latency"]["p99_ms"],
    "fan-out emit ms": lambda r: r["fanout"]["emit_seconds"] * 1000,
    "fan-out delivered s": lambda r: r["fanout"]["delivered_seconds"],
    "isolation": lambda r: r["isolation"]["ratio"],
}


def _sha(ref: str) -> str:
    return subprocess.check_output(
        ["git", "rev-parse", "--short", ref], cwd=ROOT, text=True
    ).strip()


def _prepare(sha: str) -> Path:
    tree = WORK / sha
    if not tree.exists():
        subprocess.run(["git", "worktree", "add", "--detach", str(tree), sha], cwd=ROOT, check=True)
    python = tree / ".venv" / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(tree / ".venv")], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", "-e", ".[dev]"], cwd=tree, check=True
        )
    return tree


def _run(tree: Path, output: Path, extra: list[str]) -> dict:
    python = tree / ".venv" / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "bench", "--output", str(output), *extra], cwd=tree, check=True
    )
    return json.loads(output.read_text())


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.compare")
    parser.add_argument("before")
    parser.add_argument("after", nargs="?", default="HEAD")
    parser.add_argument("--rounds", type=int, default=2)
    args, extra = parser.parse_known_args()  # the rest goes to bench, e.g. --quick
    commits = [_sha(args.before), _sha(args.after)]
    trees = {sha: _prepare(sha) for sha in commits}
    runs: dict[str, list[dict]] = {sha: [] for sha in commits}
    for number in range(args.rounds):
        for sha in commits:
            output = WORK / f"{sha}-{number}.json"
            runs[sha].append(_run(trees[sha], output, extra))
            print(f"round {number + 1} {sha}: " + _line(runs[sha][-1]), flush=True)
    print(f"\nmedians of {args.rounds} runs each, alternating")
    print(f"{'':<22}" + "".join(f"{sha:>12}" for sha in commits) + f"{'after/before':>14}")
    summary = {}
    for name, pick in FIGURES.items():
        before, after = (statistics.median(pick(r) for r in runs[sha]) for sha in commits)
        summary[name] = {"before": before, "after": after}
        change = after / before if before else float("nan")
        print(f"{name:<22}{before:>12.2f}{after:>12.2f}{change:>14.2f}")
    results = ROOT / "bench" / "results"
    results.mkdir(parents=True, exist_ok=True)
    (results / "compare.json").write_text(
        json.dumps({"commits": commits, "summary": summary, "runs": runs}, indent=2)
    )


def _line(result: dict) -> str:
    return ", ".join(f"{name} {pick(result):.2f}" for name, pick in FIGURES.items())


if __name__ == "__main__":
    main()
