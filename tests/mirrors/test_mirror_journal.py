"""Writes are atomic and journaled; restore puts back exact bytes, or refuses to lose a later edit."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from torchrig._core.atomic import write_atomic
from torchrig._core.errors import UserError
from torchrig.mirrors.journal import FileChange, Journal


def change(path: Path, after: bytes, target: str = "pip") -> FileChange:
    before = path.read_bytes() if path.exists() else None
    mode = stat.S_IMODE(path.stat().st_mode) if path.exists() else None
    return FileChange(target, path, before, after, mode)


def test_atomic_write_keeps_the_mode_and_leaves_no_temp_file(tmp_path: Path) -> None:
    f = tmp_path / "pip.conf"
    f.write_text("old\n")
    os.chmod(f, 0o640)
    write_atomic(f, b"new\n")
    assert f.read_bytes() == b"new\n" and stat.S_IMODE(f.stat().st_mode) == 0o640
    assert os.listdir(tmp_path) == ["pip.conf"]


def test_atomic_write_through_a_symlink_writes_the_real_file_and_keeps_the_link(tmp_path: Path) -> None:
    real = tmp_path / "dotfiles" / "condarc"
    real.parent.mkdir()
    real.write_text("channels: [conda-forge]\n")
    link = tmp_path / ".condarc"
    link.symlink_to(real)
    write_atomic(link, b"changed\n")
    assert link.is_symlink() and real.read_bytes() == b"changed\n"


def test_restore_puts_back_the_exact_bytes_and_mode(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "state")
    f = tmp_path / "pip.conf"
    original = b"[global]\r\n# CRLF and no final newline\r\ntimeout = 5"
    f.write_bytes(original)
    os.chmod(f, 0o600)
    journal.apply([change(f, b"[global]\nindex-url = https://m/simple\n")])
    assert f.read_bytes() != original
    journal.restore(journal.plan_restore(["pip"]))
    assert f.read_bytes() == original and stat.S_IMODE(f.stat().st_mode) == 0o600
    assert journal.plan_restore(["pip"]) == []  # nothing left to undo


def test_restore_removes_a_file_that_did_not_exist(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "state")
    f = tmp_path / "uv" / "uv.toml"
    journal.apply([change(f, b"[[index]]\n", target="uv")])
    assert f.exists()
    journal.restore(journal.plan_restore(["uv"]))
    assert not f.exists()


def test_restore_steps_back_one_change_at_a_time(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "state")
    f = tmp_path / "pip.conf"
    f.write_bytes(b"v0\n")
    journal.apply([change(f, b"v1\n")])
    journal.apply([change(f, b"v2\n")])
    journal.restore(journal.plan_restore(["pip"]))
    assert f.read_bytes() == b"v1\n"
    journal.restore(journal.plan_restore(["pip"]))
    assert f.read_bytes() == b"v0\n"


def test_restore_refuses_when_the_file_was_edited_since_unless_forced(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "state")
    f = tmp_path / "pip.conf"
    f.write_bytes(b"mine\n")
    journal.apply([change(f, b"torchrig's\n")])
    f.write_bytes(b"torchrig's\nand a later hand edit\n")
    with pytest.raises(UserError, match=r"pip.conf was edited after torchrig changed it .* pass --force"):
        journal.plan_restore(["pip"])
    assert f.read_bytes() == b"torchrig's\nand a later hand edit\n"
    journal.restore(journal.plan_restore(["pip"], force=True))
    assert f.read_bytes() == b"mine\n"


def test_a_file_edited_between_plan_and_restore_is_not_overwritten_unless_forced(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "state")
    pip, uv = tmp_path / "pip.conf", tmp_path / "uv.toml"
    pip.write_bytes(b"mine\n")
    journal.apply([change(pip, b"torchrig's\n", "pip"), change(uv, b"u\n", "uv")])
    plan = journal.plan_restore(["pip", "uv"])
    pip.write_bytes(b"torchrig's\nand an edit made after the plan\n")  # another writer, between plan and restore
    with pytest.raises(UserError, match=r"pip.conf changed while torchrig was preparing to restore it"):
        journal.restore(plan)
    assert pip.read_bytes() == b"torchrig's\nand an edit made after the plan\n" and uv.read_bytes() == b"u\n"
    assert {e.path for e in journal.entries() if e.restored} == set()  # nothing was recorded as undone
    journal.restore(plan, force=True)
    assert pip.read_bytes() == b"mine\n" and not uv.exists()


def test_restore_only_touches_the_targets_asked_for(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "state")
    pip, uv = tmp_path / "pip.conf", tmp_path / "uv.toml"
    journal.apply([change(pip, b"p\n", "pip"), change(uv, b"u\n", "uv")])
    journal.restore(journal.plan_restore(["uv"]))
    assert pip.exists() and not uv.exists()


def test_a_file_changed_between_plan_and_apply_is_not_overwritten(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "state")
    f = tmp_path / "pip.conf"
    f.write_bytes(b"planned from this\n")
    planned = change(f, b"new\n")
    f.write_bytes(b"someone else wrote this meanwhile\n")
    with pytest.raises(UserError, match="changed while torchrig was preparing"):
        journal.apply([planned])
    assert f.read_bytes() == b"someone else wrote this meanwhile\n"


def test_the_journal_and_saved_copies_are_private(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "state")
    f = tmp_path / "pip.conf"
    f.write_bytes(b"index-url = https://user:secret@corp/simple\n")
    journal.apply([change(f, b"x\n")])
    assert stat.S_IMODE((tmp_path / "state").stat().st_mode) == 0o700
    blobs = list((tmp_path / "state" / "blobs").iterdir())
    assert len(blobs) == 1 and stat.S_IMODE(blobs[0].stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "state" / "journal.jsonl").stat().st_mode) == 0o600


def test_a_file_that_cannot_be_written_is_one_sentence_and_earlier_writes_stay_restorable(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "state")
    ok = tmp_path / "pip.conf"
    (tmp_path / "not-a-dir").write_text("a file where a folder should be\n")
    blocked = tmp_path / "not-a-dir" / "uv.toml"
    with pytest.raises(UserError, match=r"cannot write .*uv.toml: .*; `torchrig mirror restore` undoes the 1 written"):
        journal.apply([change(ok, b"p\n", "pip"), change(blocked, b"u\n", "uv")])
    assert ok.read_bytes() == b"p\n"
    plan = journal.plan_restore(["pip", "uv"])
    assert [entry.target for entry, _ in plan] == ["pip"]  # the failed write left nothing to undo
    journal.restore(plan)
    assert not ok.exists()


def test_a_file_already_put_back_by_hand_is_marked_restored_and_blocks_nothing(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "state")
    pip, uv = tmp_path / "pip.conf", tmp_path / "uv.toml"
    pip.write_bytes(b"[global]\ntimeout = 5\n")
    uv.write_bytes(b"# mine\n")
    journal.apply([change(pip, b"[global]\nindex-url = https://m/simple\n"), change(uv, b"x\n", target="uv")])
    pip.write_bytes(b"[global]\ntimeout = 5\n")  # the user undid torchrig's edit in an editor
    plan = journal.plan_restore(["pip", "uv"])
    assert [c.changes_anything for _e, c in plan] == [False, True]
    journal.restore(plan)
    assert pip.read_bytes() == b"[global]\ntimeout = 5\n" and uv.read_bytes() == b"# mine\n"
    assert journal.plan_restore(["pip", "uv"]) == []  # both closed: a later use/restore starts clean


def test_a_created_file_the_user_removed_needs_no_restore(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "state")
    f = tmp_path / "uv.toml"
    journal.apply([change(f, b"[[index]]\n", target="uv")])
    f.unlink()
    journal.restore(journal.plan_restore(["uv"]))
    assert not f.exists() and journal.plan_restore(["uv"]) == []


def test_restore_removes_the_folders_it_created_only_while_empty(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "state")
    f = tmp_path / "config" / "uv" / "uv.toml"
    journal.apply([change(f, b"[[index]]\n", target="uv")])
    journal.restore(journal.plan_restore(["uv"]))
    assert not (tmp_path / "config").exists()  # both folders torchrig made for the file are gone

    g = tmp_path / "config" / "pip" / "pip.conf"
    journal.apply([change(g, b"[global]\n")])
    (tmp_path / "config" / "yours.toml").write_text("# written since, by someone else\n")
    journal.restore(journal.plan_restore(["pip"]))
    assert not (tmp_path / "config" / "pip").exists()
    assert (tmp_path / "config" / "yours.toml").exists()  # a folder that holds something else stays
