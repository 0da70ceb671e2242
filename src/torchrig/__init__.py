"""torchrig: from "just installed" to "proven to train".

The command-line tool lives in :mod:`torchrig.cli`; the runtime that training code imports is
:mod:`torchrig.data`, :mod:`torchrig.checkpoint` and :mod:`torchrig.log`. Importing this package
never imports torch: the doctor has to work where torch is missing or broken.
"""

from __future__ import annotations

__all__ = ["__version__"]


def __getattr__(name: str) -> str:
    # Looked up on first use: importlib.metadata costs tens of milliseconds at start-up, and
    # `torchrig doctor --quick` has a budget of a quarter of collect_env's time.
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            value = version("torchrig")
        except PackageNotFoundError:  # a source tree that was never installed
            value = "0+unknown"
        globals()["__version__"] = value
        return value
    raise AttributeError(f"module 'torchrig' has no attribute {name!r}")
