"""torchrig.log.setup: every line says when, how bad, which rank and which process, wherever it runs."""

from __future__ import annotations

import io
import logging
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from torchrig import log
from torchrig._core.errors import UserError

LINE = re.compile(
    r"^(?P<date>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) (?P<level>[A-Z]+) rank=(?P<rank>-|\d+)"
    r"(?: worker=(?P<worker>\d+))? pid=(?P<pid>\d+) (?P<name>[\w.]+): (?P<message>.*)$"
)


@pytest.fixture(autouse=True)
def restore_logging(monkeypatch: pytest.MonkeyPatch):
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    monkeypatch.delenv("RANK", raising=False)
    monkeypatch.delenv("TORCHRIG_LOG_LEVEL", raising=False)
    monkeypatch.delenv("TORCHRIG_LOG_FILE", raising=False)
    yield
    for h in list(root.handlers):
        if h not in handlers:
            root.removeHandler(h)
            h.close()
    root.setLevel(level)


def parse(text: str) -> list[dict[str, str]]:
    lines = [line for line in text.splitlines() if line.strip()]
    matches = [LINE.match(line) for line in lines]
    assert all(matches), (
        f"lines not in the torchrig format: {[line for line, m in zip(lines, matches, strict=False) if not m]}"
    )
    return [m.groupdict() for m in matches if m]


def test_a_line_has_time_level_rank_pid_and_logger_name(monkeypatch: pytest.MonkeyPatch) -> None:
    stream = io.StringIO()
    log.setup("INFO", stream=stream)
    logging.getLogger("train").info("epoch %d", 3)
    logging.getLogger("train").debug("hidden at INFO")
    monkeypatch.setenv("RANK", "3")
    logging.getLogger("train.data").warning("slow batch")
    first, second = parse(stream.getvalue())
    assert first == {
        **first,
        "level": "INFO",
        "rank": "-",
        "worker": None,
        "pid": str(os.getpid()),
        "name": "train",
        "message": "epoch 3",
    }
    assert second["rank"] == "3" and second["level"] == "WARNING"  # read per record, not at setup


def test_setup_again_replaces_its_handlers_instead_of_doubling_lines() -> None:
    stream = io.StringIO()
    log.setup("INFO", stream=io.StringIO())
    log.setup("DEBUG", stream=stream)
    logging.getLogger("x").debug("once")
    assert len(parse(stream.getvalue())) == 1
    assert sum(getattr(h, "_torchrig_handler", False) for h in logging.getLogger().handlers) == 1


def test_a_file_gets_the_same_lines(tmp_path: Path) -> None:
    path = tmp_path / "logs" / "train.log"
    path.parent.mkdir()
    log.setup("INFO", file=path, stream=io.StringIO())
    logging.getLogger("train").error("boom")
    for h in logging.getLogger().handlers:
        h.flush()
    (entry,) = parse(path.read_text())
    assert entry["level"] == "ERROR" and entry["message"] == "boom"
    assert os.environ["TORCHRIG_LOG_FILE"] == str(path.resolve())


def test_a_log_file_in_a_missing_folder_is_one_sentence_and_no_folder_is_made(tmp_path: Path) -> None:
    log.setup("INFO", stream=io.StringIO())
    before = list(logging.getLogger().handlers)
    target = tmp_path / "nonexistent" / "dir" / "train.log"
    with pytest.raises(UserError) as caught:
        log.setup("INFO", file=target)
    assert str(caught.value) == (f"cannot log to {target}: the folder {target.parent} does not exist; create it first.")
    assert not (tmp_path / "nonexistent").exists()
    assert logging.getLogger().handlers == before  # the previous configuration still holds


def test_a_directory_as_the_log_file_is_one_sentence(tmp_path: Path) -> None:
    with pytest.raises(UserError) as caught:
        log.setup("INFO", file=tmp_path, stream=io.StringIO())
    assert str(caught.value) == (
        f"cannot log to {tmp_path}: it is a directory; give a file in it, such as {tmp_path / 'train.log'}."
    )
    assert not isinstance(caught.value, IsADirectoryError)


def test_an_unknown_level_is_one_sentence() -> None:
    with pytest.raises(UserError, match="unknown log level 'LOUD'"):
        log.setup("LOUD")


class LoggingDataset:
    """Each item logs from whichever process reads it."""

    def __len__(self) -> int:
        return 8

    def __getitem__(self, index: int) -> int:
        logging.getLogger("dataset").info("item %d", index)
        return index


@pytest.mark.slow
@pytest.mark.parametrize("start_method", ["fork", "spawn"])
def test_dataloader_workers_log_with_their_worker_id_and_pid(tmp_path: Path, start_method: str) -> None:
    torch = pytest.importorskip("torch")
    from torch.utils.data import DataLoader

    path = tmp_path / "workers.log"
    log.setup("INFO", file=path, stream=io.StringIO())
    loader = DataLoader(
        LoggingDataset(),
        batch_size=2,
        num_workers=2,
        multiprocessing_context=start_method,
        worker_init_fn=log.init_worker,
    )
    assert sorted(int(i) for batch in loader for i in batch) == list(range(8))
    entries = [e for e in parse(path.read_text()) if e["name"] == "dataset"]
    assert len(entries) == 8
    assert {e["worker"] for e in entries} == {"0", "1"}
    assert all(e["pid"] != str(os.getpid()) for e in entries)
    assert len({e["pid"] for e in entries}) == 2
    del torch


RANK_SCRIPT = textwrap.dedent("""
    import logging, sys
    import torch.distributed as dist
    from torchrig import log
    rank, store, path = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    log.setup("INFO", file=path)
    dist.init_process_group("gloo", init_method="file://" + store, rank=rank, world_size=2)
    logging.getLogger("ddp").info("joined")
    dist.barrier()
    dist.destroy_process_group()
""")


@pytest.mark.slow
def test_two_ddp_ranks_write_one_file_each_line_naming_its_rank(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    path = tmp_path / "ranks.log"
    store = tmp_path / "store"
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", RANK_SCRIPT, str(r), str(store), str(path)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for r in range(2)
    ]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    entries = [e for e in parse(path.read_text()) if e["name"] == "ddp"]
    assert sorted(e["rank"] for e in entries) == ["0", "1"]  # from torch.distributed: RANK is unset
    assert {e["pid"] for e in entries} == {str(p.pid) for p in procs}
    for _out, err in outputs:  # the console got the same format
        assert any(LINE.match(line) for line in err.splitlines())
