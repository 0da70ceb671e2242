"""Package mirrors: the catalog, probing, and safe edits of pip, conda, uv, PyTorch and Hugging Face settings.

The public API is small:

- :func:`torch_index_base` - the PyTorch wheel index base torchrig env and the doctor use (None: upstream);
- :func:`load_catalog`, :class:`Mirror`, :class:`Catalog` - the mirror table (shipped + the user's);
- :func:`probe`, :class:`ProbeResult` - concurrent, bounded probes;
- :func:`plan_use`, :class:`Journal` - compute edits, then apply them journaled (and restore them);
- :func:`resolve` - what each tool will actually use, and why.
"""

from torchrig.mirrors.catalog import TARGETS, Catalog, Mirror, load_catalog, validate_url
from torchrig.mirrors.changes import Plan, plan_use, unified_diff
from torchrig.mirrors.journal import FileChange, Journal
from torchrig.mirrors.probe import ProbeResult, probe
from torchrig.mirrors.show import ToolView, resolve
from torchrig.mirrors.torch_index import torch_index_base

__all__ = [
    "TARGETS", "Catalog", "FileChange", "Journal", "Mirror", "Plan", "ProbeResult", "ToolView",
    "load_catalog", "plan_use", "probe", "resolve", "torch_index_base", "unified_diff", "validate_url",
]
