"""One call that gives every process of a training job the same log format: time, level, rank, pid.

    >>> import torchrig.log, logging
    >>> torchrig.log.setup("INFO", file="train.log")
    >>> logging.getLogger("train").info("epoch %d", 3)
    2026-11-22 07:31:02,417 INFO rank=1 pid=48213 train: epoch 3
    2026-11-22 07:31:02,419 INFO rank=1 worker=0 pid=48230 train.data: decoded 64 images   # a DataLoader worker

Where the fields come from, at the moment each record is written (not when ``setup`` ran, so a process
that was forked keeps telling the truth):

- ``rank``: the ``RANK`` environment variable (torchrun, ``torchrig selftest``, most launchers), else
  ``torch.distributed.get_rank()`` once a process group is up, else ``-``;
- ``worker``: present only inside a DataLoader worker (``torch.utils.data.get_worker_info()``);
- ``pid``: the writing process.

DataLoader workers started with ``fork`` inherit the configuration. Workers started with ``spawn`` or
``forkserver`` (the Linux default from Python 3.14) start with a blank ``logging``: pass
``worker_init_fn=torchrig.log.init_worker`` (or call it from your own ``worker_init_fn``); it re-applies
the configuration that ``setup`` recorded in the environment (``TORCHRIG_LOG_LEVEL``, ``TORCHRIG_LOG_FILE``),
which spawned processes inherit.

With ``file``, every process appends to the same file; each record is a single ``write`` in append mode,
so lines of different processes do not interleave on a local filesystem.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import TextIO

__all__ = ["FORMAT", "init_worker", "setup"]

FORMAT = "%(asctime)s %(levelname)s %(torchrig_where)s %(name)s: %(message)s"
_ENV_LEVEL = "TORCHRIG_LOG_LEVEL"
_ENV_FILE = "TORCHRIG_LOG_FILE"
_MARK = "_torchrig_handler"  # set on the handlers we own, so a second setup() replaces them


class _Where(logging.Filter):
    """Adds ``torchrig_where`` (``rank=R [worker=W] pid=P``) to every record that passes a handler."""

    def filter(self, record: logging.LogRecord) -> bool:
        parts = [f"rank={_rank()}"]
        worker = _worker_id()
        if worker is not None:
            parts.append(f"worker={worker}")
        parts.append(f"pid={record.process if record.process is not None else os.getpid()}")
        record.torchrig_where = " ".join(parts)
        return True


def _rank() -> str:
    env = os.environ.get("RANK")
    if env is not None and env.strip().isdigit():
        return env.strip()
    dist = sys.modules.get("torch.distributed")  # never import torch just to log
    try:
        if dist is not None and dist.is_available() and dist.is_initialized():
            return str(dist.get_rank())
    except Exception:  # noqa: S110 - a half-torn-down process group must not break logging
        pass
    return "-"


def _worker_id() -> int | None:
    data = sys.modules.get("torch.utils.data")
    if data is None:
        return None
    try:
        info = data.get_worker_info()
    except Exception:
        return None
    return None if info is None else int(info.id)


def setup(
    level: int | str = "INFO", file: str | os.PathLike[str] | None = None, *, stream: TextIO | None = None
) -> logging.Logger:
    """Configure the root logger of this process (and, through the environment, of its children).

    ``level`` is a name (``"DEBUG"``) or a number; ``file`` adds a file every process appends to;
    ``stream`` is where the console handler writes (``sys.stderr`` by default). Calling it again replaces
    what the previous call installed. Returns the root logger.
    """
    numeric = _level(level)
    # the file first: a path that cannot be a log file leaves the previous configuration in place
    to_file = _file_handler(Path(file)) if file is not None else None
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, _MARK, False):
            root.removeHandler(handler)
            handler.close()
    formatter = logging.Formatter(FORMAT)
    handlers: list[logging.Handler] = [logging.StreamHandler(stream if stream is not None else sys.stderr)]
    if to_file is not None:
        handlers.append(to_file)
    for handler in handlers:
        handler.setFormatter(formatter)
        handler.addFilter(_Where())
        setattr(handler, _MARK, True)
        root.addHandler(handler)
    root.setLevel(numeric)
    os.environ[_ENV_LEVEL] = str(numeric)  # a number: custom levels have no name to parse back
    if file is not None:
        os.environ[_ENV_FILE] = str(Path(file).resolve())
    else:
        os.environ.pop(_ENV_FILE, None)
    return root


def _file_handler(path: Path) -> logging.FileHandler:
    """A handler appending to ``path``, or a UserError in one sentence. Folders are never created:
    a typo in a path (``/nonexistent/dir/train.log``) must not become a tree of empty folders."""
    from torchrig._core.errors import UserError

    if path.is_dir():
        raise UserError(f"cannot log to {path}: it is a directory; give a file in it, such as {path / 'train.log'}.")
    if not path.parent.is_dir():
        raise UserError(f"cannot log to {path}: the folder {path.parent} does not exist; create it first.")
    try:
        return logging.FileHandler(path, mode="a", encoding="utf-8", delay=False)
    except OSError as exc:
        raise UserError(f"cannot log to {path}: {(exc.strerror or str(exc)).lower()}.") from None


def init_worker(worker_id: int | None = None) -> None:
    """Re-apply the parent's :func:`setup` in a spawned process; usable as a DataLoader ``worker_init_fn``.

    Does nothing when ``setup`` was never called in the parent, or when this process already has it
    (a forked worker inherits the handlers).
    """
    level = os.environ.get(_ENV_LEVEL)
    if level is None or any(getattr(h, _MARK, False) for h in logging.getLogger().handlers):
        return
    setup(level, os.environ.get(_ENV_FILE))


def _level(level: int | str) -> int:
    if isinstance(level, int):
        return level
    if str(level).strip().isdigit():
        return int(str(level).strip())
    numeric = logging.getLevelName(str(level).upper())
    if not isinstance(numeric, int):
        from torchrig._core.errors import UserError

        raise UserError(f"unknown log level {level!r}; use DEBUG, INFO, WARNING, ERROR or CRITICAL.")
    return numeric
