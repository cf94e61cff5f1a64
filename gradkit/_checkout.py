"""``gradkit.backends`` in a source checkout: the repository's top-level ``backends/`` folder.

The wheel ships that folder inside the package, as ``gradkit/backends`` (pyproject's ``force-include``), so an
installed gradkit claims no top-level name but its own. A checkout (and an editable install, which imports the
checkout) has no ``gradkit/backends``: this module, imported first by ``gradkit/__init__.py``, loads the folder
under that name. In an installed wheel it does nothing.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
_FOLDER = _PACKAGE.parent / "backends"

if "gradkit.backends" not in sys.modules and not (_PACKAGE / "backends").is_dir() and \
        (_FOLDER / "__init__.py").is_file():
    _spec = importlib.util.spec_from_file_location("gradkit.backends", _FOLDER / "__init__.py",
                                                   submodule_search_locations=[str(_FOLDER)])
    assert _spec is not None and _spec.loader is not None
    _module = importlib.util.module_from_spec(_spec)
    sys.modules["gradkit.backends"] = _module
    _spec.loader.exec_module(_module)
    sys.modules["gradkit"].backends = _module  # type: ignore[attr-defined]
