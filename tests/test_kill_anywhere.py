"""Kill anywhere, the fast variant: real ganeval processes SIGKILLed at random moments leave no
half-written output, re-running completes, and a file-size limit gives one clean error.

The full harness (50 kills per command) is ``benchmarks/kill_anywhere.py --trials 50`` (docs/reliability.md).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_kills_leave_nothing_half_written(tmp_path):
    p = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "kill_anywhere.py"), "--quick", "--trials", "1",
                        "--commands", "report,baseline,train", "--work", str(tmp_path), "--seed", "3"],
                       capture_output=True, text=True, cwd=ROOT)
    assert p.returncode == 0, p.stdout + p.stderr
    lines = {ln.split()[0]: ln for ln in p.stdout.splitlines() if ln.split()[:1] in (["report"], ["baseline"],
                                                                                    ["train"])}
    assert set(lines) == {"report", "baseline", "train"}, p.stdout
    assert all(ln.rstrip().endswith("half-written 0") for ln in lines.values()), p.stdout
