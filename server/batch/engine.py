"""Connect a batch run to the flows: configuration, registry, catalog and command table.

Every text goes through the same command table the daemon uses (deadlines,
retries, per-model concurrency, dead letters), as one command owned by
``batch``. Names are checked before any file is read, so a typo in ``--flow``
or ``-m`` is a usage error, not a thousand failed files.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from ..commands import CommandError, CommandTable, Gone
from ..config import Config
from ..flows import Flow, FlowCatalog, FlowError, load_flows
from ..merge import MergePolicy
from ..models import Registry, UnknownModelError
from .cache import Cache
from .run import CorrectionError, TextCorrector

OWNER = "batch"


class UsageError(Exception):
    """The command line names something that does not exist or is incomplete."""


@dataclass(frozen=True)
class Request:
    """What the user asked for on the command line."""

    flow: str = "correct"
    model: str | None = None
    instruction: str | None = None
    use_cache: bool = True


@dataclass
class Engine:
    """A ready-to-use corrector plus what the run needs to know about the model."""

    corrector: TextCorrector
    model_id: str
    max_concurrency: int
    policy: MergePolicy


class _TableCall:
    """One text through the command table: submit, wait, claim (cancelled with its task)."""

    def __init__(self, table: CommandTable, request: Request) -> None:
        self.table = table
        self.request = request

    async def __call__(self, text: str) -> str:
        request = self.request
        try:
            fid = self.table.submit(
                request.flow,
                text,
                model=request.model,
                instruction=request.instruction,
                owner=OWNER,
            )
        except CommandError as exc:
            raise CorrectionError(str(exc)) from exc
        try:
            await self.table.wait(fid)
        except asyncio.CancelledError:
            self.table.cancel(fid)
            raise
        try:
            return self.table.claim(fid)
        except Gone as exc:  # "scripted: no answer", "timed out: ...": no flow id to puzzle over
            raise CorrectionError(exc.reason if exc.state == "failed" else exc.outcome) from exc


def _resolve(catalog: FlowCatalog, registry: Registry, request: Request) -> tuple[Flow, str]:
    """The flow and model id the request names; :class:`UsageError` if either is wrong."""
    try:
        flow = catalog.get(request.flow)
        model_id = registry.resolve(request.model or flow.model)
    except (FlowError, UnknownModelError) as exc:
        raise UsageError(str(exc)) from exc
    if flow.needs_instruction and not (request.instruction or flow.instruction):
        raise UsageError(f"flow {flow.name!r} needs an instruction: pass -i 'what to do'")
    return flow, model_id


@asynccontextmanager
async def open_engine(config: Config, request: Request) -> AsyncIterator[Engine]:
    """Build the registry and command table for one run, and close them afterwards."""
    registry = Registry(config)
    try:
        catalog = load_flows(config)
    except FlowError as exc:
        raise UsageError(str(exc)) from exc
    flow, model_id = _resolve(catalog, registry, request)
    table = CommandTable(registry, catalog, queue_limit=1_000_000)
    decided_by = {
        "flow": flow.name,
        "version": flow.version,
        "model": model_id,
        "instruction": request.instruction,
    }
    cache = Cache(enabled=request.use_cache)
    corrector = TextCorrector(
        _TableCall(table, request), cache, lambda text: Cache.key(text, **decided_by)
    )
    try:
        yield Engine(
            corrector,
            model_id,
            registry.get_model(model_id).max_concurrency,
            MergePolicy(**flow.merge_policy),
        )
    finally:
        await table.aclose(grace=0.0)
        await registry.aclose()
