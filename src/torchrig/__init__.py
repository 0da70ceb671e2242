"""torchrig: from "just installed" to "proven to train".

The command-line tool lives in :mod:`torchrig.cli`; the runtime that training code imports is
:mod:`torchrig.data`, :mod:`torchrig.checkpoint` and :mod:`torchrig.log`. Importing this package
never imports torch: the doctor has to work where torch is missing or broken.

The rooms (see docs/architecture.md): ``cli`` (the command line) above the capabilities ``doctor``,
``selftest``, ``mirrors`` and ``envs``, above ``knowledge`` (the compatibility tables and the one rule
that picks a PyTorch build) and the runtime (``data``, ``checkpoint``, ``log``), above ``_core``
(errors, atomic writes, paths and the seams to the outside world). The borders are import-linter
contracts in pyproject.toml, checked by ``make lint``.

The errors the runtime raises are :class:`UserError` (one sentence for the user) and its subclass
:class:`TorchMissingError`, both importable from here.
"""

from __future__ import annotations

TYPE_CHECKING = False  # not typing's: importing typing would lengthen the start-up this module keeps short
if TYPE_CHECKING:
    from torchrig._core.errors import TorchMissingError, UserError

__all__ = ["TorchMissingError", "UserError", "__version__"]


def __getattr__(name: str) -> object:
    # Everything here is looked up on first use: the `torchrig` command imports this package before
    # it can catch Ctrl-C (torchrig.cli.main), so the less this import does, the shorter that window.
    if name in ("TorchMissingError", "UserError"):
        from torchrig._core import errors

        return getattr(errors, name)
    # importlib.metadata costs tens of milliseconds at start-up, and `torchrig doctor --quick` has a
    # budget of a quarter of collect_env's time.
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            value = version("torchrig")
        except PackageNotFoundError:  # a source tree that was never installed
            value = "0+unknown"
        globals()["__version__"] = value
        return value
    raise AttributeError(f"module 'torchrig' has no attribute {name!r}")
