"""``gradkit run [--backend NAME] SCRIPT [ARGS...]``: run an unmodified PyTorch script on gradkit.

``aliased()`` maps ``torch`` to ``gradkit`` in ``sys.modules`` for as long as it is entered: ``torch``,
``torch.nn``, ``torch.nn.functional``, ``torch.utils.data``, ``torch.cuda``, ... are gradkit's modules of the same
names (every ``torch.X.Y`` resolves to ``gradkit.X.Y`` on import, through a finder placed first on
``sys.meta_path``; ``torch.backends`` is the backend layer, ``backends``). A torch that is installed is hidden
meanwhile and restored after. ``run_script`` runs the script as ``__main__`` inside it (``runpy``), with
``sys.argv`` and ``sys.path[0]`` as ``python SCRIPT ARGS`` would set them; the script's exceptions and exit
status are its own.

The script's default device, and what its ``"cpu"`` means, is the backend chosen: ``--backend``, else
``$GRADKIT_BACKEND``, else numpy (torch's default device is the CPU). ``--backend strict`` thus runs a script
written for the CPU on array_api_strict; ``"cuda"`` is always CuPy.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import os
import runpy
import sys
from collections.abc import Iterator, Sequence
from types import ModuleType, TracebackType
from typing import Any

from gradkit import backends

__all__ = ["EAGER", "add_parser", "aliased", "main", "run_script", "target_of"]

# Resolved when aliasing starts (what scripts import first); every other torch.X.Y is resolved on import.
EAGER = ("torch", "torch.nn", "torch.nn.functional", "torch.nn.init", "torch.nn.utils", "torch.nn.parallel",
         "torch.optim", "torch.utils", "torch.utils.data", "torch.utils.data.dataloader", "torch.cuda",
         "torch.cuda.amp", "torch.amp", "torch.distributed", "torch.backends")


def target_of(name: str) -> str | None:
    """The module that ``name`` (``torch`` or ``torch.X.Y``) means under the alias: ``gradkit.X.Y``, and
    ``backends.Y`` for ``torch.backends.Y``; None for a name outside ``torch``."""
    if name != "torch" and not name.startswith("torch."):
        return None
    if name == "torch.backends" or name.startswith("torch.backends."):
        return "gradkit.backends" + name[len("torch.backends"):]
    return "gradkit" + name[len("torch"):]


class _Alias(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds ``torch.X`` as the already-imported module ``target_of(torch.X)`` (never a second copy of it)."""

    def __init__(self) -> None:
        self.specs: dict[int, Any] = {}

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> importlib.machinery.ModuleSpec | None:
        real = target_of(fullname)
        if real is None:
            return None
        try:
            importlib.import_module(real)
        except ModuleNotFoundError as exc:
            if exc.name != real:
                raise
            raise ModuleNotFoundError(f"No module named {fullname!r}: gradkit has no {real} (the torch name it "
                                      "would be) yet", name=fullname) from None
        return importlib.util.spec_from_loader(fullname, self)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        module = importlib.import_module(target_of(spec.name))  # type: ignore[arg-type]
        self.specs[id(module)] = module.__spec__
        return module

    def exec_module(self, module: ModuleType) -> None:
        """Nothing to run; the module gets its own ``__spec__`` back (the import system set the alias's on it,
        which would make ``gradkit.amp``'s later relative imports warn once the alias is gone)."""
        module.__spec__ = self.specs.pop(id(module), module.__spec__)


@contextlib.contextmanager
def aliased() -> Iterator[None]:
    """``torch`` means ``gradkit`` inside (see the module's docstring); ``sys.modules`` and ``sys.meta_path``
    are as they were after."""
    hidden = {k: v for k, v in sys.modules.items() if target_of(k) is not None}
    for k in hidden:
        del sys.modules[k]
    finder = _Alias()
    sys.meta_path.insert(0, finder)
    try:
        for name in EAGER:
            importlib.import_module(name)
        yield
    finally:
        sys.meta_path.remove(finder)
        for k in [k for k in sys.modules if target_of(k) is not None]:
            del sys.modules[k]
        sys.modules.update(hidden)


@contextlib.contextmanager
def _default_device(name: str | None) -> Iterator[None]:
    """The backend ``name`` (else ``$GRADKIT_BACKEND``, else numpy) as the default backend and as what ``"cpu"``
    means, for the duration."""
    chosen = backends.resolve_name(name or os.environ.get(backends.ENV_VAR) or "numpy")
    saved = os.environ.get(backends.ENV_VAR)
    os.environ[backends.ENV_VAR] = chosen
    backends.map_device("cpu", chosen)
    try:
        yield
    finally:
        backends.map_device("cpu", None)
        if saved is None:
            os.environ.pop(backends.ENV_VAR, None)
        else:
            os.environ[backends.ENV_VAR] = saved


def run_script(script: str, args: Sequence[str] = (), backend: str | None = None) -> dict[str, Any]:
    """Run ``script`` as ``__main__`` with ``torch`` mapped to gradkit, ``sys.argv = [script, *args]`` and the
    script's directory first on ``sys.path`` (as ``python script args``), on ``backend`` (see the module's
    docstring). Returns the script's globals. Everything it raises propagates (``SystemExit`` included).

    Raises:
        FileNotFoundError: ``script`` does not exist. UnknownBackendError, BackendUnavailableError: ``backend``.
    """
    if not os.path.exists(script):
        raise FileNotFoundError(f"no such script: {script}")
    saved_argv, saved_path = sys.argv[:], sys.path[:]
    with _default_device(backend):
        if backend is not None:
            backends.get_backend(backend)  # an unusable backend is an error before the script starts
        sys.argv = [script, *args]
        sys.path.insert(0, os.path.dirname(os.path.abspath(script)))
        try:
            with aliased():
                return runpy.run_path(script, run_name="__main__")
        finally:
            sys.argv[:], sys.path[:] = saved_argv, saved_path


def add_parser(sub: Any) -> None:
    """The ``run`` subcommand's parser, added to ``gradkit``'s subparsers ``sub``."""
    p = sub.add_parser("run", help="run an unmodified PyTorch script on gradkit (torch mapped to gradkit)",
                       description="Run SCRIPT as python would, with `import torch` giving gradkit.")
    p.add_argument("--backend", default=None, help="what the script's default device and 'cpu' mean: numpy, strict "
                   "or cupy (default: $GRADKIT_BACKEND, then numpy); 'cuda' is always cupy")
    p.add_argument("script", help="the Python script")
    rest = p.add_argument("args", nargs=argparse.REMAINDER, help="the script's own arguments")
    rest.required = False  # argparse counts a REMAINDER positional as required: only the script is


def main(args: argparse.Namespace) -> int:
    """``gradkit run``: 2 with one line on stderr for a missing script or an unusable backend; else the script's
    own outcome as under python: 0 when it returns, its ``SystemExit`` propagated, and for any other exception
    its traceback from the script's first frame on (``sys.excepthook``), then 1 (130 for KeyboardInterrupt)."""
    if not os.path.exists(args.script):
        print(f"gradkit run: error: no such script: {args.script}", file=sys.stderr)
        return 2
    try:
        backends.get_backend(args.backend or os.environ.get(backends.ENV_VAR) or "numpy")
    except (backends.UnknownBackendError, backends.BackendUnavailableError) as exc:
        print(f"gradkit run: error: {exc}", file=sys.stderr)
        return 2
    try:
        run_script(args.script, args.args, args.backend)
    except (Exception, KeyboardInterrupt) as exc:  # SystemExit goes on: its status (or message) as under python
        shown = exc.with_traceback(_from_script(exc.__traceback__, args.script, exc))  # the hook shows exc's own
        sys.excepthook(type(shown), shown, shown.__traceback__)
        return 130 if isinstance(exc, KeyboardInterrupt) else 1
    return 0


def _from_script(tb: TracebackType | None, script: str, exc: BaseException) -> TracebackType | None:
    """The traceback as ``python SCRIPT`` shows it: from the script's first frame on (gradkit's command line and
    runpy's frames before it dropped; the library frames the script called into kept). A script that does not
    compile has no frame of its own: its SyntaxError shows no frames, as under python."""
    names = {script, os.path.abspath(script)}
    first = tb
    while first is not None and first.tb_frame.f_code.co_filename not in names:
        first = first.tb_next
    if first is None and not isinstance(exc, SyntaxError):
        return tb  # not raised under the script (gradkit's own failure): every frame, to find it
    return first
