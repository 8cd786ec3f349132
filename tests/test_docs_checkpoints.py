"""docs/checkpoints.md runs as written: its Python blocks in order in one empty folder, then its
`ganeval` commands, each with the exit code the page says (0 unless a comment says "exit N").

The routes that score the same network with the same seed (state dict + factory, its containers,
wrap, TorchScript, .pt2, trusted pickle) must give the same numbers.
"""

from __future__ import annotations

import json
import math
import re
import shlex
import sys
from pathlib import Path

import pytest

from ganeval.cli import main

DOC = Path(__file__).resolve().parents[1] / "docs" / "checkpoints.md"
BLOCK = re.compile(r"```(python|sh)\n(.*?)```", re.S)


def _blocks() -> list[tuple[str, str]]:
    return [(m.group(1), m.group(2)) for m in BLOCK.finditer(DOC.read_text())]


def _close(a: object, b: object) -> bool:
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_close(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-4, abs_tol=1e-6)
    return a == b


@pytest.mark.slow
def test_every_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(sys.modules, "models", None)  # the page's models.py, not any other
    sys.modules.pop("models")
    py = [code for lang, code in _blocks() if lang == "python"]
    sh = [code for lang, code in _blocks() if lang == "sh"]
    assert len(py) >= 8 and len(sh) >= 8
    try:
        for code in py:
            first = code.splitlines()[0]
            if first.startswith("# file: "):
                (tmp_path / first[len("# file: "):].strip()).write_text(code)
            else:
                exec(compile(code, str(DOC), "exec"), {"__name__": "__doc_example__"})
        for block in sh:
            for line in block.strip().splitlines():
                want = re.search(r"#\s*exit (\d+)", line)
                argv = shlex.split(line, comments=True)
                assert argv[0] == "ganeval"
                code = main(argv[1:])
                captured = capsys.readouterr()
                assert code == (int(want.group(1)) if want else 0), (line, captured.err[-2000:])
    finally:
        sys.modules.pop("models", None)
    same = ["weights", "wrapped", "jit", "pt2", "whole"]
    metrics = {name: json.loads((tmp_path / "reports" / name / "report.json").read_text()) for name in same}
    metrics = {k: (v["evaluations"][0] if "evaluations" in v else v)["metrics"] for k, v in metrics.items()}
    for name in same[1:]:
        assert _close(metrics[name], metrics["weights"]), name
    assert not (tmp_path / "reports" / "no-range").exists()
