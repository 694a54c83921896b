"""Word-level three-way merge of a model's result into text the user kept editing.

Pure functions: no I/O, nothing else of llm_flows imported. See docs/merge.md.
"""

from __future__ import annotations

from .diff import ENGINE, diff_items
from .policy import MergePolicy
from .three_way import merge
from .tokenize import tokenize
from .types import Conflict, Edit, MergeResult, Status, apply_edits

__all__ = [
    "ENGINE",
    "Conflict",
    "Edit",
    "MergePolicy",
    "MergeResult",
    "Status",
    "apply_edits",
    "diff_items",
    "merge",
    "tokenize",
]
