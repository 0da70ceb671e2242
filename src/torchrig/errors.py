"""Errors that carry one clear sentence for the user.

Raise :class:`UserError` for anything the user can act on (bad input, a file we cannot parse, a
missing dependency). The CLI prints its message alone, with no traceback, and exits with
``exit_code`` (2 by default, the code for usage errors).
"""

from __future__ import annotations


class UserError(Exception):
    """A problem with the user's input or situation, explained in one sentence."""

    def __init__(self, message: str, *, exit_code: int = 2) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class TorchMissingError(UserError):
    """The runtime needs torch and the current environment has none (or it fails to import)."""


def require_torch(feature: str) -> None:
    """Raise :class:`TorchMissingError` naming ``feature`` if torch cannot be imported."""
    try:
        import torch  # noqa: F401
    except Exception as exc:  # ImportError, OSError from a missing CUDA library, ...
        raise TorchMissingError(
            f"{feature} needs PyTorch, and importing it failed ({type(exc).__name__}: {exc}); "
            "run `torchrig doctor` to find out why and how to fix it."
        ) from exc
