"""The journal of every file ``torchrig mirror`` changed, and putting the previous bytes back.

Invariants (tests hold us to them):

1. Nothing is written before its journal entry and the previous bytes are on disk: a crash between
   the two leaves an entry whose file still has its old bytes, which ``restore`` sees as "changed
   since" and refuses, rather than losing anything.
2. An entry records the real path, whether the file existed, its mode, and the sha256 of the bytes
   before and after; the bytes before live in ``blobs/<sha256>`` (0600 in a 0700 folder).
3. ``restore`` steps each file back by one change: it puts back the bytes before the newest change
   not yet restored, or removes the file if it did not exist, and then the folders that change
   created, when they are empty. It refuses, naming the file, when the file's bytes are no longer the
   ones torchrig wrote (someone edited it since) unless ``force``. A file that already holds what
   restore would put back (the user restored it by hand, or removed the file torchrig created) is
   left alone and its change marked restored: nothing is lost, and later restores are not blocked.
4. A lock file serialises concurrent ``use``/``restore`` runs of the same user.

Where: ``$XDG_STATE_HOME/torchrig/mirror/`` (default ``~/.local/state/torchrig/mirror/``).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from torchrig._core import paths
from torchrig._core.atomic import file_mode, read_bytes, read_only, real_path, remove_file, write_atomic
from torchrig._core.errors import UserError


@dataclass(frozen=True)
class FileChange:
    """One file a command wants to change: bytes before (None = absent) and after (None = remove)."""

    target: str
    path: Path
    before: bytes | None
    after: bytes | None
    mode: int | None = None  # the mode to keep (the file's) or to give a file that comes back

    @property
    def changes_anything(self) -> bool:
        return self.before != self.after


@dataclass(frozen=True)
class Entry:
    id: str
    time: float
    target: str
    path: str
    existed: bool
    before_sha: str | None
    after_sha: str | None
    mode: int | None
    restored: bool = False
    made_dirs: tuple[str, ...] = ()  # folders the change created for the file, outermost first


def _sha(data: bytes | None) -> str | None:
    return None if data is None else hashlib.sha256(data).hexdigest()


def state_dir() -> Path:
    """Where the journal lives: ``$XDG_STATE_HOME/torchrig/mirror``."""
    return paths.state_dir() / "mirror"


class Journal:
    def __init__(self, directory: Path | None = None) -> None:
        self.dir = directory if directory is not None else state_dir()
        self._file = self.dir / "journal.jsonl"
        self._blobs = self.dir / "blobs"

    # --- storage --------------------------------------------------------------------------------

    def _prepare(self) -> None:
        for d in (self.dir, self._blobs):
            d.mkdir(parents=True, exist_ok=True, mode=0o700)
            os.chmod(d, 0o700)  # private even if it existed with a looser mode

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        self._prepare()
        fd = os.open(self.dir / "lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def _append(self, record: dict) -> None:
        line = (json.dumps(record, sort_keys=True) + "\n").encode()
        fd = os.open(self._file, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)

    def _store_blob(self, data: bytes) -> str:
        sha = hashlib.sha256(data).hexdigest()
        blob = self._blobs / sha
        if not blob.exists():
            write_atomic(blob, data, mode=0o600)
        return sha

    def _blob(self, sha: str) -> bytes:
        data = read_bytes(self._blobs / sha)
        if data is None or hashlib.sha256(data).hexdigest() != sha:
            raise UserError(
                f"the saved copy {self._blobs / sha} is missing or damaged, so torchrig cannot restore that file."
            )
        return data

    def entries(self) -> list[Entry]:
        """Every change, oldest first, with ``restored`` set for those already put back."""
        try:
            lines = self._file.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return []
        changes: list[dict] = []
        restored: set[str] = set()
        for line in lines:
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line torn by a crash mid-append names no change that happened
            if rec.get("op") == "change":
                changes.append(rec)
            elif rec.get("op") == "restore":
                restored.add(rec.get("of", ""))
        return [
            Entry(
                id=r["id"],
                time=r["time"],
                target=r["target"],
                path=r["path"],
                existed=r["existed"],
                before_sha=r["before_sha"],
                after_sha=r["after_sha"],
                mode=r.get("mode"),
                restored=r["id"] in restored,
                made_dirs=tuple(r.get("made_dirs", ())),
            )
            for r in changes
        ]

    # --- use ------------------------------------------------------------------------------------

    def apply(self, changes: Sequence[FileChange], *, force: bool = False) -> list[Path]:
        """Write every change that changes something, journaling each first; returns the real paths.

        A file its owner made read-only (``chmod 444``) is refused, and then nothing at all is
        written, unless ``force``: it keeps its mode, read-only, with the new bytes.
        """
        written: list[Path] = []
        with self.locked():
            if not force:
                for change in changes:
                    mode = file_mode(change.path)
                    if change.changes_anything and read_only(mode):
                        raise UserError(
                            f"{change.path} is read-only (mode {mode:04o}), so torchrig changed nothing; make it "
                            "writable (chmod u+w) or pass --force to rewrite it anyway."
                        )
            for change in changes:
                if not change.changes_anything:
                    continue
                real = real_path(change.path)
                # The file must still hold what the plan was made from; otherwise re-plan.
                if read_bytes(real) != change.before:
                    raise UserError(
                        f"{change.path} changed while torchrig was preparing its edit; run the command again."
                    )
                if change.before is not None:
                    self._store_blob(change.before)
                entry_id = uuid.uuid4().hex
                missing = [d for d in reversed(real.parents) if not d.exists()]
                self._append(
                    {
                        "op": "change",
                        "id": entry_id,
                        "time": time.time(),
                        "target": change.target,
                        "path": str(real),
                        "existed": change.before is not None,
                        "before_sha": _sha(change.before),
                        "after_sha": _sha(change.after),
                        "mode": change.mode,
                        "made_dirs": [str(d) for d in missing],
                    }
                )
                try:
                    if change.after is None:
                        remove_file(real)
                    else:
                        write_atomic(real, change.after, mode=change.mode)
                except OSError as exc:
                    # the file kept its old bytes: close the entry so restore does not see a stranger's edit
                    self._append({"op": "restore", "of": entry_id, "time": time.time(), "failed": True})
                    done = f"; `torchrig mirror restore` undoes the {len(written)} written before it" if written else ""
                    raise UserError(f"cannot write {change.path}: {exc.strerror or exc}{done}.") from None
                written.append(real)
        return written

    # --- restore --------------------------------------------------------------------------------

    def plan_restore(self, targets: Sequence[str], *, force: bool = False) -> list[tuple[Entry, FileChange]]:
        """For each file of ``targets``: its newest unrestored change and the change that undoes it.

        Raises a UserError naming the first file whose bytes changed since torchrig wrote them,
        unless ``force``.
        """
        newest: dict[str, Entry] = {}
        for entry in self.entries():
            if not entry.restored:
                newest[entry.path] = entry  # later entries replace earlier ones: the top of each file's stack
        plan: list[tuple[Entry, FileChange]] = []
        for path, entry in newest.items():
            if entry.target not in targets:
                continue
            current = read_bytes(path)
            before = self._blob(entry.before_sha) if entry.existed and entry.before_sha else None
            if current == before:  # already put back by hand (or the created file removed): nothing to lose
                plan.append((entry, FileChange(entry.target, Path(path), current, before, entry.mode)))
                continue
            if _sha(current) != entry.after_sha and not force:
                when = time.strftime("%Y-%m-%d %H:%M", time.localtime(entry.time))
                state = "was removed" if current is None else "was edited"
                raise UserError(
                    f"{path} {state} after torchrig changed it on {when}, so restoring would lose that change; "
                    "pass --force to restore the earlier bytes anyway."
                )
            plan.append((entry, FileChange(entry.target, Path(path), current, before, entry.mode)))
        return plan

    def restore(self, plan: Sequence[tuple[Entry, FileChange]], *, force: bool = False) -> list[Path]:
        """Write each planned undo; refuses, writing nothing, if a file changed since the plan, unless ``force``."""
        done: list[Path] = []
        with self.locked():
            # plan_restore read the files outside the lock: another writer may have edited one since.
            for _entry, change in plan:
                if not force and read_bytes(change.path) != change.before:
                    raise UserError(
                        f"{change.path} changed while torchrig was preparing to restore it, so restoring would lose "
                        "that change; run the command again, or pass --force to restore the earlier bytes anyway."
                    )
            for entry, change in plan:
                if not change.changes_anything:
                    pass  # it already holds those bytes (or is already gone): only the journal learns it
                elif change.after is None:
                    remove_file(change.path)
                else:
                    write_atomic(change.path, change.after, mode=change.mode)
                if change.after is None:
                    _remove_empty(entry.made_dirs)
                self._append({"op": "restore", "of": entry.id, "time": time.time()})
                done.append(change.path)
        return done


def _remove_empty(folders: Sequence[str]) -> None:
    """Remove the folders a change created, innermost first, each only while it is empty."""
    for folder in reversed(folders):
        try:
            os.rmdir(folder)
        except FileNotFoundError:
            continue
        except OSError:  # not empty: something else lives there now, and in the folders around it
            return
