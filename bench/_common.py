"""Timing helpers shared by the benchmarks: medians, alternating rounds, and reference
frameworks (PyTorch, MXNet) run in their own processes so that their thread pools do not
slow numpy down (PERF-ANCHORS: "Do not run torch and the numpy engine in one process")."""
from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import time


def median_time(fn, number=10, repeat=7, warmup=2) -> float:
    """Median seconds per call of ``fn`` over ``repeat`` timings of ``number`` calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        times.append((time.perf_counter() - t0) / number)
    return statistics.median(times)


def emit(result: dict) -> None:
    """The line a child process prints for its parent."""
    print("RESULT " + json.dumps(result), flush=True)


def run_child(python: str, script: str, args: list, timeout=600) -> list:
    """Run a benchmark child and collect its RESULT lines."""
    out = subprocess.run([python, script] + list(args), capture_output=True, text=True,
                         timeout=timeout)
    if out.returncode != 0:
        raise RuntimeError("%s %s failed:\n%s" % (python, script, out.stderr[-2000:]))
    return [json.loads(line[7:]) for line in out.stdout.splitlines() if line.startswith("RESULT ")]


def serve(fns: dict, number=10, repeat=3) -> None:
    """Child side of ``Server``: build once, then time ``fns[name]`` for each name read from
    stdin (one per line) and answer with a RESULT line.  ``number``: calls per timing, one
    for all or a dict by name."""
    for fn in fns.values():
        median_time(fn, number=2, repeat=1)                 # warm up every case once
    emit({"ready": True})
    for line in sys.stdin:
        name = line.strip()
        if not name:
            break
        calls = number[name] if isinstance(number, dict) else number
        emit({"name": name, "t": median_time(fns[name], number=calls, repeat=repeat, warmup=1)})


class Server:
    """A reference framework kept running in its own process, timed on demand, so that
    each of its timings can be paired with ours taken a moment before: the host's slow and
    fast phases (±30% over minutes here) then cancel in the per-round ratio."""

    def __init__(self, python: str, script: str, args: list, pause: float = 0.2):
        # ``pause``: seconds before and after each timing, so that idle BLAS/OpenMP workers
        # of either process stop spinning and neither measures the other's spin
        self.pause = pause
        self.proc = subprocess.Popen([python, script] + list(args), stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        self._read()                                        # the ready line

    def _read(self) -> dict:
        for line in self.proc.stdout:
            if line.startswith("RESULT "):
                return json.loads(line[7:])
        raise RuntimeError("benchmark child ended early (exit %s)" % self.proc.wait())

    def time(self, name: str) -> float:
        time.sleep(self.pause)
        self.proc.stdin.write(name + "\n")
        self.proc.stdin.flush()
        t = self._read()["t"]
        time.sleep(self.pause)
        return t

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


def find_python_with(module: str, env_var: str, candidates=()) -> str | None:
    """A Python interpreter that can import ``module``: $env_var, this one, or a candidate."""
    options = [os.environ.get(env_var)] + [sys.executable] + list(candidates)
    for py in options:
        if not py or not (os.path.exists(py) or shutil.which(py)):
            continue
        ok = subprocess.run([py, "-c", "import %s" % module], capture_output=True).returncode == 0
        if ok:
            return py
    return None


TORCH_CANDIDATES = (os.path.expanduser("~/.cache/torchenv/bin/python"),)
MXNET_CANDIDATES = (os.path.expanduser("~/.cache/mxenv/bin/python"),)


def fmt_time(s: float) -> str:
    if s < 1e-3:
        return "%.1f us" % (s * 1e6)
    return "%.2f ms" % (s * 1e3)
