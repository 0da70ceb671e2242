"""torchrig: from "just installed" to "proven to train".

The command-line tool lives in :mod:`torchrig.cli`; the runtime that training code imports is
:mod:`torchrig.data`, :mod:`torchrig.checkpoint` and :mod:`torchrig.log`. Importing this package
never imports torch: the doctor has to work where torch is missing or broken.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("torchrig")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

__all__ = ["__version__"]
