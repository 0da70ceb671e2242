"""Benchmark: probing N mirrors costs about the slowest probe, not the sum.

Eight localhost mirrors (threads in this process) each wait 1 s before answering their index page,
the way a far-away mirror's first byte does; the artifact range read that follows is not delayed.
The same eight are then probed one after another, in the same run, as chsrc does. Prints both times
and the ratio; exits 1 if the concurrent probe takes 1.5 s or more. No network, no home directory.
"""

from __future__ import annotations

import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "mirrors"))

from fake_mirror import LocalhostMirror

from torchrig.mirrors.catalog import load_catalog
from torchrig.mirrors.probe import probe

N, DELAY, LIMIT_S = 8, 1.0, 1.5


def main() -> int:
    with ExitStack() as stack, tempfile.TemporaryDirectory() as tmp:
        servers = [stack.enter_context(LocalhostMirror(delay=DELAY)) for _ in range(N)]
        user_file = Path(tmp) / "mirrors.toml"
        user_file.write_text("".join(s.toml(f"m{i}", services=("pypi",)) for i, s in enumerate(servers)))
        catalog = load_catalog(user_file)
        pairs = [(catalog.get(f"m{i}"), "pypi") for i in range(N)]

        start = time.perf_counter()
        results = probe(catalog, pairs, timeout=5)
        concurrent_s = time.perf_counter() - start
        assert all(r.ok for r in results), [r.error for r in results if not r.ok]

        start = time.perf_counter()
        baseline = probe(catalog, pairs, timeout=5, workers=1)  # same code, one pair at a time
        sequential_s = time.perf_counter() - start
        assert all(r.ok for r in baseline), [r.error for r in baseline if not r.ok]

    print(f"mirror probe: {N} local mirrors, each {DELAY:g} s to first byte of its index page")
    print(f"  concurrent (torchrig mirror probe): {concurrent_s:.3f} s")
    print(f"  one after another (baseline):       {sequential_s:.3f} s")
    print(
        f"  ratio: {sequential_s / concurrent_s:.1f}x faster; target under {LIMIT_S:g} s: "
        f"{'met' if concurrent_s < LIMIT_S else 'MISSED'}"
    )
    return 0 if concurrent_s < LIMIT_S else 1


if __name__ == "__main__":
    sys.exit(main())
