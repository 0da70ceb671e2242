"""nccl.transport-failed: NCCL cannot connect the ranks (network interface, InfiniBand, sockets)."""

from __future__ import annotations

from torchrig.doctor.checks import run_checks
from torchrig.doctor.report import parse_report


def _codes(text: str) -> list[str]:
    return [f.code for f in run_checks(parse_report(text))]


# --- each text in its program's own wording (NCCL, Fabric Manager, cuda-python, torchaudio, the dynamic
# loader) or a reporter's, written from the source, not copied from a corpus report


def test_an_nccl_system_error_in_a_container_follows_the_ibv_call_nccl_names() -> None:
    # src/misc/ibvwrap.cc: WARN("Call to " name " failed with error %s", strerror(errno)); return ncclSystemError
    text = (
        "docker run --gpus all --network=host trainer:latest\n"
        "gpu-node-3:411:502 [2] misc/ibvwrap.cc:190 NCCL WARN Call to ibv_reg_mr failed with error Cannot allocate memory\n"
        "torch.distributed.DistBackendError: NCCL error in: ProcessGroupNCCL.cpp:1970, unhandled system error "
        "(run with NCCL_DEBUG=INFO for details), NCCL version 2.21.5\n"
    )
    findings = run_checks(parse_report(text))
    assert [f.code for f in findings] == ["nccl.transport-failed"]  # no /dev/shm suspicion: the call is named
    assert "ibv_reg_mr" in findings[0].title
    assert any("NCCL_BUFFSIZE" in step for step in findings[0].fix)
    assert any("ulimit -l unlimited" in step for step in findings[0].fix)


def test_a_socket_call_nccl_names_is_a_transport_failure() -> None:
    # src/include/checks.h SYSCHECK: WARN("Call to " name " failed: %s", strerror(errno))
    text = (
        "podman run ...\nnode1:77:77 [0] misc/socket.cc:480 NCCL WARN Call to connect failed : Connection timed out\n"
        "RuntimeError: NCCL error: unhandled system error\n"
    )
    assert _codes(text)[0] == "nccl.transport-failed"
    assert "shm.too-small" not in _codes(text)
