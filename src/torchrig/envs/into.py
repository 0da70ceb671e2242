"""Installing the planned torch build into an existing interpreter (``torchrig env install``, ``make run``).

``env create`` makes a new environment; this puts the build the plan picks into one that exists, such as
the ``.venv`` that ``make run`` just made with torchrig in it and no torch yet. pip does the work, with
its own configuration (find-links, extra indexes, certificates, proxies) and its own progress output;
the plan only chooses the requirement and the index:

    >>> install_argv(plan, "/repo/.venv/bin/python")
    ('/repo/.venv/bin/python', '-m', 'pip', 'install', 'torch==2.13.0+cpu',
     '--index-url', 'https://download.pytorch.org/whl/cpu')

A CPU plan for an exact release asks for the ``+cpu`` build by name on x86_64 Linux and on Windows, where
PyTorch's CPU wheels carry that label: then no index pip is configured with can hand a machine without
an NVIDIA GPU the CUDA build of the same version (several GB of ``nvidia-*`` wheels). PyTorch's aarch64
and macOS CPU wheels have no label, so there the requirement stays plain. Because the label alone makes
the choice safe, a labelled install whose index cannot be reached (no DNS, no route: a machine behind a
firewall with a wheel directory in pip's configuration) goes to pip's own indexes and find-links instead
of retrying the dead index for torch and each of its dependencies. A CUDA plan keeps its index: the
variant is the index.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

from torchrig._core.errors import UserError
from torchrig._core.seams.runner import Runner
from torchrig.knowledge import install
from torchrig.knowledge.builds import BuildPlan

_LABELLED_CPU = {("linux", "x86_64"), ("linux", "amd64"), ("windows", "x86_64"), ("windows", "amd64")}

# What the target interpreter is: its X.Y, and the torch distribution installed in it (metadata only:
# importing a broken torch could take seconds or crash, and is the doctor's job).
_ASK = (
    "import json, sys\n"
    "from importlib import metadata\n"
    "try:\n"
    "    torch = metadata.version('torch')\n"
    "except metadata.PackageNotFoundError:\n"
    "    torch = None\n"
    "print(json.dumps({'python': '%d.%d' % sys.version_info[:2], 'torch': torch}))\n"
)


@dataclass(frozen=True)
class Interpreter:
    path: str
    python: str  # "3.11"
    torch: str | None  # the installed distribution's version, "2.13.0+cpu", or None


def inspect(path: str, runner: Runner) -> Interpreter:
    """Ask ``path`` its Python version and installed torch; UserError (one sentence) if it cannot answer."""
    done = runner.run([path, "-c", _ASK], timeout=60)
    if not done.ok:
        why = done.error or (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1]
        raise UserError(f"{path} could not be run as a Python interpreter: {why}.")
    try:
        answer = json.loads(done.stdout.strip().splitlines()[-1])
        return Interpreter(path, str(answer["python"]), answer["torch"])
    except (ValueError, IndexError, KeyError, TypeError):
        raise UserError(f"{path} did not answer like a Python interpreter.") from None


def requirement(plan: BuildPlan) -> str:
    """The torch requirement to install: the plan's, with ``+cpu`` where PyTorch's CPU wheels carry it."""
    req = plan.requirement
    exact = "*" not in req
    where = (plan.target.platform, plan.target.cpu_arch.lower())
    if exact and plan.variant == "cpu" and where in _LABELLED_CPU:
        return f"{req}+cpu"
    return req


def install_argv(plan: BuildPlan, python: str, *, own_indexes: bool = False) -> tuple[str, ...]:
    """``python -m pip install <requirement> --index-url <the plan's index>`` (no index option on macOS,
    nor with ``own_indexes``: then pip's configured indexes and find-links alone)."""
    build = plan.build
    if build is None:
        raise UserError(plan.reason)
    index = () if own_indexes else install.index_args(build, index_base=plan.index_base, platform=plan.target.platform)
    return (python, "-m", "pip", "install", requirement(plan), *index)


def index_unreachable(url: str, *, timeout: float = 5.0) -> str | None:
    """Why ``url`` cannot be reached at all (DNS, connection, timeout), or None: any HTTP answer will do."""
    import httpx

    from torchrig._core.seams import http

    try:
        with http.client(timeout=timeout) as client:
            client.head(url.rstrip("/") + "/torch/")
    except httpx.TransportError as exc:  # ConnectError, timeouts, proxy errors: not an HTTP status
        return str(exc) or type(exc).__name__
    return None


def install_attempts(
    plan: BuildPlan, python: str, *, unreachable: Callable[[str], str | None] | None = index_unreachable
) -> list[tuple[tuple[str, ...], str | None]]:
    """The pip commands to try in turn for ``plan``, each with a note saying why it is tried.

    A labelled CPU requirement may go to pip's own indexes and find-links instead of the PyTorch index
    (the label, not the index, keeps the CUDA build away): first when the index does not answer our own
    request, else after pip failed with it. Our request knows nothing of a proxy or certificate set only
    in pip's configuration, so whichever comes first, the other is tried when it fails. Anything else goes
    to pip as planned, once. ``unreachable=None`` asks no index (a dry run makes no request).
    """
    argv = install_argv(plan, python)
    index = plan.index_url
    if index is None or "--index-url" not in argv or not requirement(plan).endswith("+cpu"):
        return [(argv, None)]
    own = install_argv(plan, python, own_indexes=True)
    why = unreachable(index) if unreachable is not None else None
    if why is None:
        return [
            (argv, None),
            (
                own,
                f"pip could not install {requirement(plan)} from {index}; it names the CPU build, so pip's own "
                "indexes and find-links are tried next.",
            ),
        ]
    return [
        (
            own,
            f"{index} cannot be reached ({why}); {requirement(plan)} names the CPU build, so pip looks for it "
            "in its own indexes and find-links instead.",
        ),
        (
            argv,
            f"pip could not install {requirement(plan)} from its own indexes; trying {index} after all (pip "
            "may reach it through a proxy or certificate set in its configuration).",
        ),
    ]


def run_pip(argv: tuple[str, ...]) -> int:
    """Run pip with the terminal's stdout and stderr, so its own progress shows; its exit status.

    A Ctrl-C reaches pip too (one process group); ``subprocess.run`` kills it if we are interrupted first.
    """
    import subprocess

    return subprocess.run(argv, check=False).returncode
