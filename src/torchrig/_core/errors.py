"""Errors that carry one clear sentence for the user.

Raise :class:`UserError` for anything the user can act on (bad input, a file we cannot parse, a
missing dependency). The CLI prints its message alone, with no traceback, and exits with
``exit_code`` (2 by default, the code for usage errors).
"""

from __future__ import annotations

from pathlib import Path


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


def read_user_file(path: str | Path, *, limit: int, what: str) -> bytes:
    """The bytes of a file the user named, or a one-sentence :class:`UserError` saying why not.

    ``what`` names what the file should be ("a collect_env output or a log", "an environment.yml") and
    ends each message; a file over ``limit`` bytes is refused unread past the limit.
    """
    p = Path(path)
    try:
        with p.open("rb") as fh:
            data = fh.read(limit + 1)
    except IsADirectoryError:
        raise UserError(f"{p} is a directory; give the file itself ({what}).") from None
    except OSError as exc:
        raise UserError(f"cannot read {p}: {exc.strerror or exc}.") from None
    if len(data) > limit:
        raise UserError(f"{p} is larger than {limit >> 20} MiB; that is not {what}.")
    return data
