"""The contract fuzz of the API (issue 13): >= 10,000 schemathesis requests with a login per role.

Run ``make fuzz``, or ``python benchmarks/fuzz_api.py`` (``--workspace PATH``: the demo's
``out/demo/workspace.gpkg`` by default, made by ``gridgeo demo --out out/demo`` if missing;
``--max-examples N`` per operation and phase for the admin's run, the other roles a quarter
of it; ``--seed S``; ``--min-requests R``, default 10,000: fewer fails the run; ``--lanes L``,
default 4: role runs at the same time, each against its own server and workspace copy;
``--max-time-s T``: each lane's runs share T seconds, the fuzzing repeating until it is spent,
for a machine too slow or too busy to finish the examples in time).

This is the runner of ``tests/contractfuzz.py`` (its docstring says how a run goes): a
copy of the workspace with one user and bearer token per role is served by ``python -m
api.limits`` (uvicorn with the service's limits) on 127.0.0.1; ``schemathesis run`` sends
seeded requests to every operation of the served ``/openapi.json`` as each role and without
a login, checking the status codes, media types, bodies and headers against the schema, no
5xx, no path, SQL or traceback in an error body, and that no write answered 4xx changed a
table of the workspace. The figures (requests, statuses per role, failures) go to stdout
and to ``benchmarks/results/fuzz_api.json``; the exit code is 0 only when every check held.
The short CI run of the same fuzz is ``tests/api/test_api_contract_fuzz.py``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO / "tests"))  # the fuzz lives with the tests it also serves

import contractfuzz  # noqa: E402

RESULTS = HERE / "results" / "fuzz_api.json"
DEFAULT_WORKSPACE = REPO / "out" / "demo" / "workspace.gpkg"
DEFAULT_MAX_EXAMPLES = 40
DEFAULT_LANES = 4  # role runs at once, each on its own server and workspace copy
MIN_REQUESTS = 10_000


def _workspace(path: Path) -> Path:
    if path.is_file():
        return path
    if path != DEFAULT_WORKSPACE:
        sys.exit(f"工作区不存在 / no workspace at {path}: give --workspace PATH")
    print(f"making the demo workspace in {path.parent} (gridgeo demo) ...", flush=True)
    subprocess.run(
        [sys.executable, "-m", "gridgeo.cli", "demo", "--out", str(path.parent)], check=True
    )
    return path


def _tracebacks(log: Path, keep: int = 5) -> list[str]:
    """The first ``keep`` distinct tracebacks of the server's log, each with the line before it
    (uvicorn's "unexpected error on GET /route")."""
    if not log.is_file():
        return []
    lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
    found: list[str] = []
    for i, line in enumerate(lines):
        if not line.startswith("Traceback"):
            continue
        end = i + 1
        while end < len(lines) and (lines[end].startswith((" ", "\t")) or not lines[end]):
            end += 1
        block = "\n".join(lines[max(i - 1, 0) : min(end + 1, len(lines))])
        if block not in found:
            found.append(block)
        if len(found) >= keep:
            break
    return found


def main(argv: list[str] | None = None) -> int:
    """Run the fuzz, print and store its summary; 0 when every check held."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", type=Path, default=DEFAULT_WORKSPACE)
    parser.add_argument("--max-examples", type=int, default=DEFAULT_MAX_EXAMPLES)
    parser.add_argument("--seed", type=int, default=contractfuzz.SEED)
    parser.add_argument("--min-requests", type=int, default=MIN_REQUESTS)
    parser.add_argument("--lanes", type=int, default=DEFAULT_LANES)
    parser.add_argument("--max-time-s", type=float, default=None)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if not contractfuzz.schemathesis_available():
        sys.exit("没有 schemathesis / schemathesis is not installed: pip install -e '.[test]'")
    workspace = _workspace(args.workspace)
    started = dt.datetime.now(dt.UTC)
    with tempfile.TemporaryDirectory(prefix="gridgeo-fuzz-") as tmp:
        try:
            summary = contractfuzz.run_fuzz(
                workspace,
                Path(tmp),
                max_examples=args.max_examples,
                seed=args.seed,
                lanes=args.lanes,
                max_time_s=args.max_time_s,
            )
        except BaseException as exc:  # liveserver reports a dead server through pytest.fail
            if isinstance(exc, KeyboardInterrupt | SystemExit):
                raise
            sys.exit(f"模糊测试无法运行 / the fuzz could not run: {exc}")
        failures = contractfuzz.failure_text(Path(tmp))
        tracebacks = [
            text for log in sorted(Path(tmp).rglob("uvicorn*.log")) for text in _tracebacks(log)
        ]  # one server per lane (lane0/uvicorn.log, ...)
    ok = contractfuzz.fuzz_ok(summary) and summary["requests"] >= args.min_requests
    result = {
        "benchmark": "fuzz_api",
        "started_at": started.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": {"python": platform.python_version(), "platform": platform.platform()},
        "max_examples": args.max_examples,
        "max_time_s": args.max_time_s,
        "min_requests": args.min_requests,
        "ok": ok,
        **summary,
        "failure_text": failures,
        # the server's own account of each 5xx (its log is in a temporary folder, gone after)
        "server_tracebacks": tracebacks,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(
        f"requests {summary['requests']}, statuses {summary['statuses']}, "
        f"5xx {summary['server_errors_5xx']}, contract failures {summary['contract_failures']}, "
        f"leaks {summary['leaks']}, rejected writes checked {summary['rejected_writes_checked']} "
        f"(changed the workspace: {summary['rejected_writes_that_changed_the_workspace']}), "
        f"role problems {len(summary['role_problems'])}"
    )
    for role, figures in summary["roles"].items():
        print(f"  {role}: {figures['requests']} requests, {figures['statuses']}")
    if failures:
        print(failures)
    for text in tracebacks:
        print(text)
    print(f"{'ok' if ok else 'FAILED'}; summary in {args.out}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
