"""`python -m bench [names...]`: run every benchmark, or the named ones, in order.

Each writes bench/results/<name>.json with the machine facts (cpus, python, date,
git commit) and the exact command. Arguments after `--` go to a single named
benchmark, e.g. `python -m bench webhook_ingress -- --seconds 5`.
A benchmark that fails is reported and the others still run; the exit status is 1
if any failed (a measurement never fails on its numbers, only on breaking).
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import time

from bench import common

#: name -> module with main(argv) (ours), or a script run as a subprocess (others').
BENCHMARKS = {
    "sim_throughput": "script:bench/sim_throughput.py",
    "webhook_ingress": "bench.webhook_ingress",
    "pipeline_throughput": "bench.pipeline_throughput",
}


def run_script(name: str, path: str, argv: list[str]) -> None:
    """Run another engineer's standalone script, then add the runner's facts to its JSON."""
    command = [sys.executable, path, *argv]
    done = subprocess.run(command, cwd=common.ROOT, capture_output=True, text=True)
    result_path = common.RESULTS / f"{name}.json"
    if not result_path.exists():
        raise RuntimeError(f"{path} wrote no result (exit {done.returncode}):\n"
                           f"{done.stderr[-2000:]}")
    report = json.loads(result_path.read_text())
    # Its own exit status is 1 when it misses its goal; that is a number, not a failure.
    report["run"] = {"command": common.command_line(), "script_command":
                     " ".join([".venv/bin/python" if a == sys.executable else a
                               for a in command]),
                     "script_exit_status": done.returncode, "git": common.git_commit(),
                     "machine": common.machine()}
    result_path.write_text(json.dumps(report, indent=2) + "\n")


def main(argv: list[str]) -> int:
    extra: list[str] = []
    if "--" in argv:
        at = argv.index("--")
        argv, extra = argv[:at], argv[at + 1:]
    names = argv or list(BENCHMARKS)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown or (extra and len(names) != 1):
        print(f"usage: python -m bench [{' '.join(BENCHMARKS)}] [-- args for one]\n"
              + (f"unknown: {', '.join(unknown)}" if unknown else ""), file=sys.stderr)
        return 2
    failed = []
    for name in names:
        target = BENCHMARKS[name]
        common.log(f"== {name}")
        started = time.monotonic()
        try:
            if target.startswith("script:"):
                run_script(name, target.removeprefix("script:"), extra)
            else:
                importlib.import_module(target).main(extra)
        except Exception as exc:  # report and go on with the others
            failed.append(name)
            common.log(f"{name} failed: {type(exc).__name__}: {exc}")
        common.log(f"== {name} done in {time.monotonic() - started:.0f} s")
    if failed:
        common.log(f"failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
