"""Flows: pipelines of text -> text steps (a model call per chunk, then cleaning).

``load_flows(config)`` builds the catalog of built-in and user flows; the
command table (``llm_flows.commands``) runs them.
"""

from .chunking import split_text
from .cleaning import clean_output
from .errors import FlowError, Rejected
from .flow import Flow, FlowCatalog, Step
from .guard import check_rewrite
from .loader import load_flows
from .template import Template

__all__ = [
    "Flow",
    "FlowCatalog",
    "FlowError",
    "Rejected",
    "Step",
    "Template",
    "check_rewrite",
    "clean_output",
    "load_flows",
    "split_text",
]
