"""Every script in bench/ runs: its ``--smoke`` mode (tiny sizes, seconds) in a subprocess, so a bench that
crashes is a failing test. Without PyTorch (the tests session) the PyTorch columns are skipped; the torch session
runs the scripts that have PyTorch columns with it. bench/*.md carry no machine paths."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"
SMOKE = {  # script: its arguments (a child script's ENGINE included)
    "run.py": ["--smoke"],
    "zoo.py": ["--smoke"],
    "alone_child.py": ["--smoke"],
    "memory_child.py": ["gradkit", "--smoke"],
    "breakdown.py": ["--smoke"],
    "crosscheck.py": ["--smoke"],
    "programs.py": ["--smoke"],
}
WITH_TORCH = ("run.py", "zoo.py", "programs.py")


def smoke(script: str, tmp_path: Path, hide_torch: bool) -> subprocess.CompletedProcess:
    env = os.environ.copy()
    if hide_torch:  # a torch package that fails to import, first on the path: as a machine without PyTorch
        (tmp_path / "torch").mkdir()
        (tmp_path / "torch" / "__init__.py").write_text("raise ImportError('PyTorch hidden by the test')\n")
        env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), *filter(None, [env.get("PYTHONPATH")])])
    done = subprocess.run([sys.executable, str(BENCH / script), *SMOKE[script]], capture_output=True, text=True,
                          timeout=300, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    return done


def test_every_bench_script_has_a_smoke_test() -> None:
    scripts = {p.name for p in BENCH.glob("*.py") if 'if __name__ == "__main__"' in p.read_text()}
    assert scripts == set(SMOKE)


@pytest.mark.parametrize("script", [pytest.param(s, marks=[pytest.mark.slow] if s in WITH_TORCH else [])
                                    for s in SMOKE])
def test_bench_smoke_without_torch(script: str, tmp_path: Path) -> None:
    done = smoke(script, tmp_path, hide_torch=True)
    assert "Traceback" not in done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["torch"]  # nothing written where it ran
    if script in WITH_TORCH:
        assert "PyTorch hidden by the test" in done.stdout + done.stderr  # the columns were skipped, saying why


@pytest.mark.torch
@pytest.mark.parametrize("script", WITH_TORCH)
def test_bench_smoke_with_torch(script: str, tmp_path: Path) -> None:
    pytest.importorskip("torch")
    done = smoke(script, tmp_path, hide_torch=False)
    assert "gradkit/torch" in done.stderr or "torch" in done.stdout


def test_bench_results_name_no_machine_path() -> None:
    for md in BENCH.glob("*.md"):
        found = re.findall(r"(?:/(?:work|home|root|tmp|Users|opt|mnt)/\S+|[A-Z]:\\\S+|site-packages)", md.read_text())
        assert not found, f"{md.name} names machine paths: {found}"
