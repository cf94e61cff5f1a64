"""``gradkit run SCRIPT``: torch mapped to gradkit, the script run as ``__main__`` with its arguments; its own
exceptions and exit status; the module layout a torch script imports."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import types

import pytest

import gradkit
from gradkit import torch_alias


def _run(tmp_path, body, *args, backend=None):
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent(body))
    cmd = [sys.executable, "-m", "gradkit.cli", "run", *(["--backend", backend] if backend else []), str(script),
           *args]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, timeout=300)


def test_layout_resolves_what_torch_scripts_import(tmp_path):
    (tmp_path / "helper.py").write_text("VALUE = 41\n")
    out = _run(tmp_path, """
        import sys
        import torch
        import torch.nn as nn
        import torch.backends
        from torch.nn import functional as F
        from torch.utils.data import Dataset, DataLoader, RandomSampler
        from torch.utils.data.dataloader import DataLoader as DL
        from torch.nn.parallel import DistributedDataParallel as DDP
        from torch.distributed import init_process_group, destroy_process_group
        import torch.nn.init, torch.nn.utils, torch.cuda.amp, torch.amp, torch.optim
        from helper import VALUE  # the script's directory is on sys.path, as under python
        import gradkit
        from gradkit import backends
        assert torch is gradkit and nn is gradkit.nn and F is gradkit.nn.functional and DL is DataLoader
        assert torch.backends is backends and sys.modules["torch.backends"] is backends
        assert torch.utils.data.RandomSampler is RandomSampler and torch.cuda.amp.GradScaler
        assert __name__ == "__main__" and __file__.endswith("script.py")
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        print(VALUE + 1, sys.argv[1:], torch.zeros(2).device, torch.cuda.is_available() in (True, False))
    """, "--flag", "x")
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["42", "['--flag',", "'x']", "cpu", "True"]


def test_backend_strict_is_what_cpu_means(tmp_path):
    body = """
        import torch
        x = torch.ones(2).to("cpu")
        print(x.backend.name, x.device, torch.zeros(1, device=x.device).backend.name)
    """
    assert _run(tmp_path, body, backend="strict").stdout.split() == ["strict", "cpu", "strict"]
    assert _run(tmp_path, body).stdout.split() == ["numpy", "cpu", "numpy"]


def test_scripts_own_errors_and_exit_status(tmp_path):
    out = _run(tmp_path, "import torch\n1 / 0\n")
    assert out.returncode == 1 and "ZeroDivisionError" in out.stderr and "Traceback" in out.stderr
    assert _run(tmp_path, "import sys\nsys.exit(3)\n").returncode == 3
    out = _run(tmp_path, "import sys\nsys.exit('bye')\n")
    assert out.returncode == 1 and out.stderr == "bye\n"
    out = _run(tmp_path, "raise KeyboardInterrupt\n")
    assert out.returncode == 130 and out.stderr.splitlines()[-1] == "KeyboardInterrupt"
    out = _run(tmp_path, "x = (\n")
    assert out.returncode == 1 and "Traceback" not in out.stderr and "SyntaxError" in out.stderr
    assert "gradkit" not in out.stderr and "runpy" not in out.stderr, out.stderr


def test_a_scripts_traceback_is_the_one_python_shows(tmp_path):
    """From the script's first frame on: gradkit's command line and runpy's frames are not the script's; the
    library frames the script called into are."""
    out = _run(tmp_path, """
        import torch
        def f():
            return torch.ones(2) @ torch.ones(3)
        f()
    """)
    assert out.returncode == 1 and out.stdout == ""
    lines = out.stderr.splitlines()
    assert lines[0] == "Traceback (most recent call last):"
    assert lines[1].startswith(f'  File "{tmp_path / "script.py"}", line 5, in <module>'), out.stderr
    assert "cli.py" not in out.stderr and "torch_alias.py" not in out.stderr and "runpy" not in out.stderr
    assert "gradkit/ops.py" in out.stderr.replace("\\", "/")  # where the script's call failed, as python shows
    assert lines[-1].startswith("ValueError: matmul shape mismatch")
    out = _run(tmp_path, "import torch.nonexistent\n")
    assert out.returncode == 1 and "No module named 'torch.nonexistent'" in out.stderr
    out = _run(tmp_path, "import torch\ntorch.distributed.init_process_group('nccl')\n")
    assert "multi-process training is not supported yet" in out.stderr
    out = _run(tmp_path, "from torch.nn.parallel import DistributedDataParallel as DDP\nDDP(None)\n")
    assert "multi-process training is not supported yet" in out.stderr


def test_missing_script_and_bad_backend_are_errors(tmp_path):
    out = subprocess.run([sys.executable, "-m", "gradkit.cli", "run", str(tmp_path / "nope.py")],
                         capture_output=True, text=True)
    assert out.returncode == 2 and out.stderr.strip() == f"gradkit run: error: no such script: {tmp_path / 'nope.py'}"
    out = subprocess.run([sys.executable, "-m", "gradkit.cli", "run"], capture_output=True, text=True)
    assert out.returncode == 2 and out.stderr == ("gradkit run: error: the following arguments are required: script "
                                                  "(see gradkit run --help)\n")  # the script's arguments are optional
    out = _run(tmp_path, "print('never')\n", backend="tpu")
    assert out.returncode == 2 and "unknown backend 'tpu'" in out.stderr and "never" not in out.stdout


def test_aliased_restores_sys_modules(monkeypatch):
    """An installed torch (here a stand-in, beside whatever torch modules the session imported) is hidden inside
    and back after, entry for entry."""
    monkeypatch.setitem(sys.modules, "torch", types.ModuleType("torch"))
    monkeypatch.setitem(sys.modules, "torch.nn", types.ModuleType("torch.nn"))
    before = {k: v for k, v in sys.modules.items() if k == "torch" or k.startswith("torch.")}
    with torch_alias.aliased():
        import torch
        import torch.nn.functional as F

        assert torch is gradkit and F is gradkit.nn.functional
        assert sys.modules["torch.nn"] is gradkit.nn
    after = {k: v for k, v in sys.modules.items() if k == "torch" or k.startswith("torch.")}
    assert after == before
    for module in (gradkit, gradkit.nn, gradkit.nn.functional, gradkit.amp, gradkit.cuda):
        assert module.__spec__.name == module.__name__  # the alias's spec does not stay on gradkit's modules
    assert torch_alias.target_of("torch.backends.flags") == "gradkit.backends.flags"
    assert torch_alias.target_of("torchvision") is None


def test_run_script_in_process_restores_argv_and_device(tmp_path):
    script = tmp_path / "s.py"
    script.write_text("import sys, torch\nRESULT = (sys.argv[1:], torch.ones(1).to('cpu').backend.name)\n")
    before = sys.argv[:]
    out = torch_alias.run_script(str(script), ["a"], backend="strict")
    assert out["RESULT"] == (["a"], "strict")
    assert sys.argv == before and gradkit.tensor([1.0], device="cpu").backend.name == "numpy"
    with pytest.raises(FileNotFoundError, match="no such script"):
        torch_alias.run_script(str(tmp_path / "missing.py"))
