"""Making an environment from a plan: conda/mamba/micromamba, uv, or venv + pip.

Each executor turns a :class:`Request` into a list of :class:`Step` (argv lists, never shell strings),
knows where its environments live, whether one exists, and how to remove one. :func:`create` runs the
steps and keeps one promise: **an environment is either complete or absent**. A name that already
exists is refused before anything runs; when a step fails (or the user interrupts), what the earlier
steps made is removed and the error says which step failed and why. The last step writes a marker
(``torchrig-env.json`` in the environment) that records the index the torch build came from, which
``env export`` reads back.

PyTorch comes from exactly one installer per environment: pip/uv wheels from the plan's index (or the
local wheel directory), or, when the environment.yml asks for conda's ``pytorch``, conda-forge with the
plan's ``cuda-version`` pin. Never both.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import itertools
import json
import os
import shlex
import shutil
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from packaging.utils import canonicalize_name

from torchrig import __version__
from torchrig._core.atomic import write_atomic
from torchrig._core.errors import UserError
from torchrig._core.paths import envs_dir
from torchrig._core.seams.runner import Completed, Runner
from torchrig.envs.spec import EnvFile
from torchrig.knowledge import install
from torchrig.knowledge.builds import BuildPlan

MARKER = "torchrig-env.json"
MARKER_SCHEMA = "torchrig.env/1"
_INSTALL_TIMEOUT = 3600.0  # a CUDA torch is ~2-3 GB of wheels on a slow mirror
_DOCTOR_TIMEOUT = 600.0


def torchrig_source() -> str:
    """What to pip-install so the new environment has this torchrig: the local checkout it came from, if any.

    A release installs as ``torchrig==<version>`` from the index; a development install (``pip install -e .``
    or from a directory) records ``file://`` in its direct_url.json, and that directory is installed instead.
    """
    import importlib.metadata as md
    from urllib.parse import unquote, urlparse

    try:
        raw = md.distribution("torchrig").read_text("direct_url.json")
        url = json.loads(raw).get("url", "") if raw else ""
    except (md.PackageNotFoundError, ValueError, AttributeError):
        url = ""
    parsed = urlparse(url)
    if parsed.scheme == "file" and Path(unquote(parsed.path)).is_dir():
        return unquote(parsed.path)
    return f"torchrig=={__version__}"


@dataclass(frozen=True)
class Request:
    name: str
    plan: BuildPlan
    env_file: EnvFile | None = None
    find_links: str | None = None  # install every wheel from this directory, offline (--no-index)
    torchrig: str = f"torchrig=={__version__}"  # so `torchrig doctor` runs inside the environment

    @property
    def torch_from(self) -> str:
        return "conda" if self.env_file is not None and self.env_file.torch_from == "conda" else "pip"


@dataclass(frozen=True)
class Step:
    title: str
    argv: tuple[str, ...]
    timeout: float = _INSTALL_TIMEOUT

    def shell(self) -> str:
        return shlex.join(self.argv)


class Executor:
    """One way of making environments. Subclasses fill in the steps and the lifecycle."""

    kind = "?"
    runner: Runner  # every subprocess goes through it (tests pass a FakeRunner)

    def location(self, name: str) -> str:
        raise NotImplementedError

    def exists(self, name: str) -> bool:
        raise NotImplementedError

    def prefix(self, name: str) -> Path | None:
        raise NotImplementedError

    def steps(self, req: Request) -> list[Step]:
        raise NotImplementedError

    def doctor(self, name: str) -> tuple[str, ...]:
        raise NotImplementedError

    def remove(self, name: str) -> None:
        raise NotImplementedError

    def check(self, req: Request) -> None:
        """Refuse, before anything runs, a request this executor cannot honour."""


# --- venv + pip, and uv --------------------------------------------------------------------


@dataclass
class VenvExecutor(Executor):
    """``python -m venv`` then ``pip`` inside it. ``python`` is the interpreter the venv is made from."""

    python: str
    runner: Runner
    root: Path = field(default_factory=envs_dir)
    kind = "venv"

    def location(self, name: str) -> str:
        return str(self.root / name)

    def prefix(self, name: str) -> Path | None:
        path = self.root / name
        return path if path.exists() else None

    def exists(self, name: str) -> bool:
        return os.path.lexists(self.root / name)

    def check(self, req: Request) -> None:
        if req.env_file is not None and req.env_file.needs_conda:
            what = ", ".join(req.env_file.conda) or "pytorch from conda-forge"
            raise UserError(
                f"{req.env_file.path} needs conda packages ({what}) and no conda, mamba or micromamba is on "
                "PATH; install one (micromamba is a single file), or list those packages under pip:."
            )

    def _py(self, name: str) -> str:
        return str(self.root / name / "bin" / "python")

    def _pip(self, name: str) -> tuple[str, ...]:
        return (self._py(name), "-m", "pip", "install", "--disable-pip-version-check", "--no-input")

    def steps(self, req: Request) -> list[Step]:
        out = [Step("create the venv", (self.python, "-m", "venv", str(self.root / req.name)))]
        out += _pip_steps(self._pip(req.name), req)
        return out

    def doctor(self, name: str) -> tuple[str, ...]:
        return (str(self.root / name / "bin" / "torchrig"), "doctor", "--json")

    def remove(self, name: str) -> None:
        _rmtree(self.root / name)


@dataclass
class UvExecutor(VenvExecutor):
    """``uv venv`` then ``uv pip install``. ``python`` is this interpreter when the versions match, else
    the version ("3.12"), which uv finds on the machine or fetches."""

    uv: str = "uv"
    kind = "uv"

    def _pip(self, name: str) -> tuple[str, ...]:
        return (self.uv, "pip", "install", "--python", self._py(name))

    def steps(self, req: Request) -> list[Step]:
        venv = (self.uv, "venv", "--python", self.python, str(self.root / req.name))
        return [Step("create the venv (uv)", venv), *_pip_steps(self._pip(req.name), req, uv=True)]


def _companions(req: Request) -> list[str]:
    """torchvision / torchaudio from the file, pinned to the planned release's pair unless the file pins them."""
    from torchrig import knowledge
    from torchrig.envs.spec import pip_requirement

    lines = req.env_file.companions if req.env_file is not None else ()
    release = knowledge.release(req.plan.torch)
    out = []
    for line in lines:
        parsed = pip_requirement(line)
        if parsed is None:
            continue  # spec.py only files PEP 508 lines as companions
        paired = getattr(release, canonicalize_name(parsed.name), None) if release else None
        out.append(line if parsed.specifier or not paired else f"{parsed.name}=={paired}.*")
    return out


def _pip_steps(pip: tuple[str, ...], req: Request, *, uv: bool = False) -> list[Step]:
    """Install torch from the plan's index, then the file's pip packages, then torchrig."""
    plan = req.plan
    offline = ("--no-index", "--find-links", req.find_links) if req.find_links else ()
    out = []
    if req.torch_from == "pip" and plan.build is not None:
        index = offline or install.index_args(plan.build, index_base=plan.index_base, uv=uv)
        companions = _companions(req)
        title = f"install torch{''.join(', ' + c.split('=')[0] for c in companions)} ({plan.variant} build)"
        out.append(Step(title, (*pip, *plan.build.requirements(), *companions, *index)))
    if req.env_file is not None and req.env_file.pip:
        extra: list[str] = []
        for line in req.env_file.pip:
            extra += shlex.split(line)
        out.append(Step("install the pip packages of the environment file", (*pip, *offline, *extra)))
    out.append(Step("install torchrig (for the doctor)", (*pip, *offline, req.torchrig)))
    return out


# --- conda, mamba, micromamba --------------------------------------------------------------


@dataclass
class CondaExecutor(Executor):
    """conda, mamba or micromamba (``tool`` is its path); environments by name, where the tool keeps them."""

    tool: str
    runner: Runner
    kind: str = "conda"

    def _envs(self) -> list[str]:
        done = self.runner.run([self.tool, "env", "list", "--json"], timeout=60)
        if not done.ok:
            raise UserError(f"`{self.kind} env list` failed: {_last_line(done)}; check that {self.kind} works.")
        try:
            return [str(p) for p in json.loads(done.stdout).get("envs", [])]
        except (ValueError, AttributeError):
            raise UserError(f"`{self.kind} env list --json` printed something that is not JSON.") from None

    def prefix(self, name: str) -> Path | None:
        return next((Path(p) for p in self._envs() if Path(p).name == name), None)

    def exists(self, name: str) -> bool:
        return self.prefix(name) is not None

    def location(self, name: str) -> str:
        return f"{self.kind} environment {name}"

    def _run(self, name: str, *argv: str) -> tuple[str, ...]:
        return (self.tool, "run", "-n", name, *argv)

    def steps(self, req: Request) -> list[Step]:
        plan = req.plan
        file = req.env_file
        channels = list(file.channels) if file and file.channels else ["conda-forge"]
        if "conda-forge" not in channels and req.torch_from == "conda":
            channels.append("conda-forge")
        chan_args = [a for c in channels for a in ("-c", c)]
        specs = [f"python={plan.python}", "pip", *(file.conda if file else ())]
        if req.torch_from == "conda":
            specs += plan.conda_specs
        create = (self.tool, "create", "-y", "-n", req.name, "--override-channels", *chan_args, *specs)
        title = f"create the {self.kind} environment" + (
            f" with pytorch ({plan.variant})" if req.torch_from == "conda" else ""
        )
        pip = self._run(req.name, "python", "-m", "pip", "install", "--disable-pip-version-check", "--no-input")
        return [Step(title, create), *_pip_steps(pip, req)]

    def doctor(self, name: str) -> tuple[str, ...]:
        return self._run(name, "torchrig", "doctor", "--json")

    def remove(self, name: str) -> None:
        self.runner.run([self.tool, "env", "remove", "-y", "-n", name], timeout=600)
        leftover = self.prefix(name)
        if leftover is not None:
            _rmtree(leftover)


def choose_executor(runner: Runner, *, python: str, which: Callable[[str], str | None] = shutil.which) -> Executor:
    """conda, mamba or micromamba when one is on PATH; otherwise uv when present; otherwise venv + pip."""
    for tool in ("mamba", "micromamba", "conda"):
        path = which(tool)
        if path:
            return CondaExecutor(tool=path, runner=runner, kind=tool)
    uv = which("uv")
    if uv:
        here = f"{sys.version_info.major}.{sys.version_info.minor}"
        return UvExecutor(python=sys.executable if python == here else python, runner=runner, uv=uv)
    return VenvExecutor(python=_interpreter(python, which), runner=runner)


def _interpreter(python: str, which: Callable[[str], str | None]) -> str:
    """The interpreter for a venv of Python ``python``: this one when it matches, else pythonX.Y on PATH."""
    here = f"{sys.version_info.major}.{sys.version_info.minor}"
    if python == here:
        return sys.executable
    found = which(f"python{python}")
    if not found:
        raise UserError(
            f"Python {python} is not on PATH (this is Python {here}); install it, install uv (which fetches it), "
            f"or ask for --python {here}."
        )
    return found


# --- running -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Created:
    name: str
    prefix: Path | None
    doctor_argv: tuple[str, ...]
    doctor: Completed


class CreateFailed(UserError):
    """A step failed; what it had made is gone (the message says so)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, exit_code=1)


StepCallback = Callable[[int, int, Step, str], None]  # (index, total, step, "start" | "done" | "failed")


def preflight(executor: Executor, req: Request) -> None:
    """Refuse, before anything runs, what cannot work: an existing name, packages this executor cannot install."""
    executor.check(req)
    if executor.exists(req.name):
        raise UserError(
            f"an environment named {req.name} already exists ({executor.location(req.name)}); "
            "choose another name or remove it first."
        )


def create(executor: Executor, req: Request, *, on_step: StepCallback | None = None, checked: bool = False) -> Created:
    """Run every step; on any failure remove what was made, then raise :class:`CreateFailed`.

    ``checked``: the caller already ran :func:`preflight` (it lists conda's environments: seconds).
    """
    if not checked:
        preflight(executor, req)
    steps = executor.steps(req)
    notify = on_step or (lambda *_: None)
    started = False
    try:
        for i, step in enumerate(steps):
            notify(i, len(steps), step, "start")
            started = True
            done = executor.runner.run(step.argv, timeout=step.timeout, env=_child_env())
            if not done.ok:
                notify(i, len(steps), step, "failed")
                raise _StepError(step.title, _why(step, done))
            notify(i, len(steps), step, "done")
        prefix = executor.prefix(req.name)
        if prefix is None:
            raise _StepError(steps[-1].title, "the environment is not where the tool said it would be")
        try:
            _write_marker(prefix, executor, req)
        except OSError as exc:
            raise _StepError("recording the environment", f"{prefix}: {exc.strerror or exc}") from None
    except _StepError as exc:
        _rollback(executor, req.name)
        raise CreateFailed(
            f"{exc.title} failed ({exc.reason}); removed the half-made environment "
            f"({executor.location(req.name)}), nothing is left behind."
        ) from None
    except BaseException:
        if started:
            _rollback(executor, req.name)
        raise
    argv = executor.doctor(req.name)
    return Created(req.name, prefix, argv, executor.runner.run(argv, timeout=_DOCTOR_TIMEOUT))


class _StepError(Exception):
    def __init__(self, title: str, reason: str) -> None:
        self.title = title
        self.reason = reason


def _why(step: Step, done: Completed) -> str:
    prog = os.path.basename(step.argv[0])
    if done.error:
        return f"{prog}: {done.error}"
    why = f"{prog} exited {done.returncode}: {_last_line(done)}"
    index = _index_of(step.argv)
    if index:
        # pip says "No matching distribution found for <whatever it looked for first>" when the index is
        # down, which reads like a missing package: ask the index itself before blaming it.
        from torchrig.envs.into import index_unreachable

        down = index_unreachable(index)
        if down:
            why += (
                f"; the index {index} cannot be reached from here ({down}), so choose a PyTorch mirror that can "
                "(`torchrig mirror probe`, then `torchrig mirror use NAME --for torch`)"
            )
    return why


def _index_of(argv: Sequence[str]) -> str | None:
    """The index an install step names (``--index-url U`` for pip, ``--index U`` for uv), if any."""
    for flag, value in itertools.pairwise(argv):
        if flag in ("--index-url", "--index", "-i"):
            return value
    return None


def _child_env() -> dict[str, str]:
    # pip must not inherit an activated environment's identity (it would install there instead).
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("VIRTUAL_ENV", "PYTHONHOME", "PYTHONPATH", "PIP_REQUIRE_VIRTUALENV")
    }
    env.setdefault("PIP_DISABLE_PIP_VERSION_CHECK", "1")
    return env


def _rollback(executor: Executor, name: str) -> None:
    with contextlib.suppress(Exception):  # the original failure is the news; exists() reports a failed cleanup
        executor.remove(name)
    if executor.exists(name):
        raise CreateFailed(
            f"creating {name} failed and removing the half-made environment also failed; remove "
            f"{executor.location(name)} by hand."
        )


def _write_marker(prefix: Path, executor: Executor, req: Request) -> None:
    plan = req.plan
    marker = {
        "schema": MARKER_SCHEMA,
        "name": req.name,
        "executor": executor.kind,
        "torch_from": req.torch_from,
        "torch": plan.torch,
        "variant": plan.variant,
        "index_url": None if req.find_links else plan.index_url,
        "find_links": req.find_links,
        "conda_specs": list(plan.conda_specs) if req.torch_from == "conda" else [],
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "torchrig": __version__,
    }
    write_atomic(prefix / MARKER, (json.dumps(marker, indent=2) + "\n").encode("utf-8"))


def read_marker(prefix: Path) -> dict | None:
    try:
        data = json.loads((prefix / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("schema") == MARKER_SCHEMA else None


def _last_line(done: Completed) -> str:
    lines = [ln.strip() for ln in (done.stderr + "\n" + done.stdout).splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith(("ERROR", "error", "×", "CondaError", "Could not"))]
    line = (errors or lines or ["no output"])[-1]
    return line if len(line) <= 300 else line[:297] + "..."


def _rmtree(path: Path) -> None:
    if path.is_symlink():
        path.unlink()
    elif path.exists():
        shutil.rmtree(path)


def describe_steps(steps: Sequence[Step]) -> list[str]:
    """Every step as the shell line it runs (for --dry-run)."""
    return [step.shell() for step in steps]


@dataclass(frozen=True)
class DoctorVerdict:
    """What ``torchrig doctor --json`` said inside a new environment."""

    sentence: str  # the doctor's own verdict sentence, or why it did not run
    failing: bool  # errors found, or the doctor did not run


def doctor_verdict(done: Completed) -> DoctorVerdict:
    """Read the doctor's ``--json`` output (its "verdict" and findings) from the run inside the environment."""
    try:
        data = json.loads(done.stdout)
        findings = data["findings"]
        errors = [f for f in findings if f.get("severity") == "error"]
        sentence = data.get("verdict") or f"{len(errors)} error(s)"
    except (ValueError, KeyError, TypeError, AttributeError):
        why = done.error or " ".join(done.stderr.split())[-300:] or "no output"
        return DoctorVerdict(f"the doctor did not run (exit {done.returncode}): {why}", True)
    return DoctorVerdict(sentence, bool(errors) or done.returncode not in (0, 1))


def known_executors(runner: Runner, *, which: Callable[[str], str | None] = shutil.which) -> list[Executor]:
    """Every kind of environment torchrig may have made here: venv/uv ones, and the first conda-like tool's."""
    found: list[Executor] = [VenvExecutor(python=sys.executable, runner=runner)]
    for tool in ("mamba", "micromamba", "conda"):
        path = which(tool)
        if path:
            found.append(CondaExecutor(tool=path, runner=runner, kind=tool))
            break
    return found
