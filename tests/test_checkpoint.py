"""torchrig.checkpoint.load_state_dict: whatever wrapped the model at save time, the weights land."""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from torchrig.checkpoint import CheckpointError, load_state_dict  # noqa: E402


def net(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))


def same_weights(a: nn.Module, b: nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return list(sa) == list(sb) and all(torch.equal(sa[k], sb[k]) for k in sa)


def prefixed(state: dict, prefix: str) -> OrderedDict:
    return OrderedDict((prefix + k, v) for k, v in state.items())


class Wrapper(nn.Module):
    """A user model whose only child is really called ``module`` (keys module.0.weight, ...)."""

    def __init__(self, seed: int) -> None:
        super().__init__()
        self.module = net(seed)


def test_a_ddp_checkpoint_loads_into_a_plain_model(tmp_path: Path) -> None:
    source = net(1)
    path = tmp_path / "ddp.pt"
    # DataParallel is the same wrapper as DDP for naming (module.) and needs no process group.
    wrapped = nn.DataParallel(source)
    assert all(k.startswith("module.") for k in wrapped.state_dict())
    torch.save(wrapped.state_dict(), path)
    target = net(2)
    result = load_state_dict(target, path)
    assert same_weights(target, source)
    assert result.missing_keys == [] and result.unexpected_keys == []


def test_a_plain_checkpoint_loads_into_a_wrapped_model() -> None:
    source, target = net(1), nn.DataParallel(net(2))
    load_state_dict(target, source.state_dict())
    assert same_weights(target.module, source)


def test_torch_compile_prefix_is_stripped_and_added() -> None:
    source = net(1)
    load_state_dict(plain := net(2), prefixed(source.state_dict(), "_orig_mod."))
    assert same_weights(plain, source)
    target = net(3)
    compiled_like = prefixed(target.state_dict(), "_orig_mod.")
    assert next(iter(compiled_like)) == "_orig_mod.0.weight"


@pytest.mark.slow
def test_a_real_torch_compile_wrapper_loads_a_plain_checkpoint_and_back() -> None:
    source = net(1)
    compiled = torch.compile(net(2))  # not called: no compilation, only the wrapper and its key names
    assert all(k.startswith("_orig_mod.") for k in compiled.state_dict())
    load_state_dict(compiled, source.state_dict())
    assert same_weights(compiled._orig_mod, source)
    plain = net(3)
    load_state_dict(plain, compiled.state_dict())
    assert same_weights(plain, source)


@pytest.mark.parametrize("prefix", ["module._orig_mod.", "_orig_mod.module.", "module.", "_orig_mod.", ""])
def test_every_wrapper_combination_loads_into_a_plain_model(prefix: str) -> None:
    source = net(1)
    target = net(2)
    load_state_dict(target, prefixed(source.state_dict(), prefix))
    assert same_weights(target, source)


def test_a_compiled_submodule_matches_its_plain_self() -> None:
    source = nn.Sequential(OrderedDict(encoder=net(1)))
    state = OrderedDict((k.replace("encoder.", "encoder._orig_mod."), v) for k, v in source.state_dict().items())
    target = nn.Sequential(OrderedDict(encoder=net(2)))
    load_state_dict(target, state)
    assert same_weights(target, source)


def test_a_child_really_named_module_keeps_its_name() -> None:
    source = Wrapper(1)
    target = Wrapper(2)
    load_state_dict(target, source.state_dict())  # keys module.0.weight: not a DDP prefix to strip
    assert same_weights(target, source)
    again = Wrapper(3)
    load_state_dict(again, prefixed(source.state_dict(), "module."))  # that user model, saved from DDP
    assert same_weights(again, source)


def test_a_training_checkpoint_with_a_state_dict_inside_loads(tmp_path: Path) -> None:
    source = net(1)
    path = tmp_path / "last.pt"
    torch.save({"epoch": 3, "state_dict": prefixed(source.state_dict(), "module.")}, path)
    load_state_dict(target := net(2), path)
    assert same_weights(target, source)


def test_strict_mismatch_names_missing_and_unexpected_keys_in_one_message() -> None:
    state = net(1).state_dict()
    del state["2.bias"]
    state["head.weight"] = torch.zeros(3, 8)
    with pytest.raises(CheckpointError) as info:
        load_state_dict(net(2), prefixed(state, "module."), strict=True)
    message = str(info.value)
    assert message.startswith("the checkpoint does not fit the model: ")
    assert "1 missing key (2.bias)" in message
    assert "1 unexpected key (module.head.weight)" in message  # named as in the checkpoint
    assert "strict=False" in message and "\n" not in message


def test_non_strict_loads_what_fits_and_reports_the_rest() -> None:
    source = net(1)
    state = source.state_dict()
    del state["2.bias"]
    target = net(2)
    result = load_state_dict(target, state, strict=False)
    assert result.missing_keys == ["2.bias"]
    assert torch.equal(target.state_dict()["0.weight"], source.state_dict()["0.weight"])


def test_a_shape_mismatch_is_named_even_when_not_strict() -> None:
    state = net(1).state_dict()
    state["2.weight"] = torch.zeros(5, 8)
    with pytest.raises(
        CheckpointError, match=r"1 shape mismatch \(2\.weight \(checkpoint \(5, 8\), model \(3, 8\)\)\)"
    ):
        load_state_dict(net(2), state, strict=False)


def test_many_keys_are_listed_up_to_a_limit() -> None:
    model = nn.Sequential(*[nn.Linear(2, 2) for _ in range(10)])
    with pytest.raises(CheckpointError, match=r"20 missing keys \(.*and 12 more\)"):
        load_state_dict(model, {})


class Payload:
    """Unpickling this would create a file: the proof that weights_only refused to run it."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_weights_only_refuses_a_pickled_object_and_runs_nothing(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    torch.save({"0.weight": torch.zeros(8, 4), "hook": Payload(marker)}, path)
    with pytest.raises(CheckpointError, match=r"holds pickled Python objects, not only tensors.*weights_only=True"):
        load_state_dict(net(1), path)
    assert not marker.exists()


def test_missing_and_unreadable_files_are_one_sentence(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match=r"^no checkpoint at .*nope\.pt\.$"):
        load_state_dict(net(1), tmp_path / "nope.pt")
    with pytest.raises(CheckpointError, match="is a directory"):
        load_state_dict(net(1), tmp_path)
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"\x00\x01\x02 this is not a checkpoint")
    with pytest.raises(CheckpointError, match="is not a torch checkpoint: its first bytes are neither a zip archive"):
        load_state_dict(net(1), junk)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("epoch,loss\n1,0.5\n", "it is a text file, starting 'epoch,loss', where torch.save writes a zip archive."),
        (
            "version https://git-lfs.github.com/spec/v1\noid sha256:4d7a2146\nsize 4412\n",
            "it is a Git LFS pointer, not the file itself (run `git lfs pull` where you cloned it).",
        ),
        ("<!DOCTYPE html>\n<html>Not Found</html>\n", "it is a text file, starting '<!DOCTYPE html>'"),
    ],
)
def test_a_text_file_is_named_for_what_it_is_not_pickled_objects(tmp_path: Path, text: str, says: str) -> None:
    path = tmp_path / "model.pt"
    path.write_text(text)
    with pytest.raises(CheckpointError) as caught:
        load_state_dict(net(1), path)
    message = str(caught.value)
    assert message.startswith(f"{path} is not a torch checkpoint: ") and says in message
    assert "pickled" not in message


def test_torch_s_own_reason_is_quoted_whole_words_only(tmp_path: Path) -> None:
    good = tmp_path / "good.pt"
    torch.save(net(1).state_dict(), good)
    cut = tmp_path / "cut.pt"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])  # a copy that stopped half-way
    with pytest.raises(CheckpointError) as caught:
        load_state_dict(net(1), cut)
    with pytest.raises(Exception) as raw:
        torch.load(cut, weights_only=True)
    quoted = str(caught.value).split("(torch: ", 1)[1].removesuffix(").").removesuffix(" ...")
    assert str(caught.value).startswith(f"{cut} is not a readable torch checkpoint (torch: ")
    assert quoted and str(raw.value).startswith(quoted)  # torch's words, cut only between two of them
    assert str(raw.value)[len(quoted) : len(quoted) + 1] in ("", " ", ".")


def test_a_source_that_is_not_a_mapping_is_refused() -> None:
    with pytest.raises(CheckpointError, match="must be a mapping"):
        load_state_dict(net(1), [1, 2, 3])  # type: ignore[arg-type]
