"""Package mirrors: the catalog, probing, and safe edits of pip, conda, uv, PyTorch and Hugging Face settings.

The public API is small:

- :func:`torch_index_base` - the PyTorch wheel index base torchrig env and the doctor use (None: upstream);
- :func:`load_catalog`, :class:`Mirror`, :class:`Catalog` - the mirror table (shipped + the user's);
- :func:`probe`, :class:`ProbeResult` - concurrent, bounded probes;
- :func:`plan_use`, :class:`Journal` - compute edits, then apply them journaled (and restore them);
- :func:`resolve` - what each tool will actually use, and why.

Names load on first use: the doctor and the environment planner call :func:`torch_index_base` and
should not pay for importing the HTTP client and three config parsers (about a second on a busy box).
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "TARGETS": "catalog",
    "Catalog": "catalog",
    "Mirror": "catalog",
    "load_catalog": "catalog",
    "validate_url": "catalog",
    "ChangePlan": "changes",
    "plan_use": "changes",
    "unified_diff": "changes",
    "FileChange": "journal",
    "Journal": "journal",
    "ProbeResult": "probe",
    "probe": "probe",
    "ToolView": "show",
    "resolve": "show",
    "torch_index_base": "torch_index",
}

__all__ = [  # the names _WHERE loads on first use
    "TARGETS",
    "Catalog",
    "ChangePlan",
    "FileChange",
    "Journal",
    "Mirror",
    "ProbeResult",
    "ToolView",
    "load_catalog",
    "plan_use",
    "probe",
    "resolve",
    "torch_index_base",
    "unified_diff",
    "validate_url",
]


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_WHERE])
