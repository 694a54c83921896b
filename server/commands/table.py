"""The command table: every flow and model call in flight, advanced by one driver.

``submit`` records a flow and queues its first step's calls; a single driver
task (started on first use, on the running loop) does all the rest in one
place: it takes replies from finished calls, fires due timers (deadlines,
retries, time-to-live), starts calls while their model has capacity, and
sleeps until the next reply or timer. Calls run as tasks that only post their
outcome back, so state changes happen in one order, in one function.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import heapq
import itertools
import logging
import math
import random
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Any

from pydantic import ValidationError

from ..config import ConfigError
from ..flows import FlowCatalog, FlowError, Rejected, check_rewrite, clean_output, split_text
from ..log import LogWriter, dead_letter_row, logging_enabled, response_row
from ..models import ModelError, Prompt, Registry, UnknownModelError
from .clock import Clock, LoopClock, Timer
from .errors import Gone, InvalidRequest, NotReady, QueueFull, UnknownFlow, UnknownId, UnknownModel
from .events import EventStream
from .records import DEAD, ERROR_CODES, PENDING, Call, Event, FlowRecord, FlowState

DeadLetterSink = Callable[[dict[str, Any]], None]
_Reply = tuple[Call, "str | BaseException", float]
_TimerEntry = tuple[float, int, str, Any]

#: at least this many tokens per chunk, however small the model's context
MIN_CHUNK_TOKENS = 32
#: how often the table looks again whether logging is on (``llm-flows logs on|off``)
LOG_CHECK_SECONDS = 1.0


class CommandTable:
    """Flows in flight with deadlines, retries, per-model concurrency and dead letters.

    Use it from inside a running asyncio loop, from the loop's thread.
    """

    def __init__(
        self,
        registry: Registry,
        catalog: FlowCatalog,
        clock: Clock | None = None,
        ttl: float = 300.0,
        queue_limit: int = 1000,
        *,
        retries: int = 3,
        backoff: float = 0.5,
        backoff_max: float = 8.0,
        dead_letter_limit: int = 200,
        history_limit: int = 1000,
        rng: random.Random | None = None,
        on_dead_letter: DeadLetterSink | None = None,
        event_backlog: int | None = None,
    ) -> None:
        self._registry = registry
        self._catalog = catalog
        self._clock: Clock = clock or LoopClock()
        self._ttl = ttl
        self._queue_limit = queue_limit
        self._retries = retries
        self._backoff = backoff
        self._backoff_max = backoff_max
        self._rng = rng or random.Random()
        self._on_dead_letter = on_dead_letter
        self._ids = itertools.count(1)
        self._seq = itertools.count()
        self._flows: dict[str, FlowRecord] = {}
        self._finished: deque[str] = deque()
        self._history_limit = history_limit
        self._dead: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._dead_limit = dead_letter_limit
        self._waiting: dict[str, deque[Call]] = {}
        self._running: dict[str, int] = {}
        self._timers: list[_TimerEntry] = []
        self._wake_timer: Timer | None = None
        self._wake_at: float | None = None
        self._replies: deque[_Reply] = deque()
        self._tasks: set[asyncio.Task[None]] = set()
        self._streams: list[EventStream] = []
        #: events a subscriber may leave unread before it is dropped: ten for every flow
        #: the queue may hold (a flow's whole life is about four)
        self._event_backlog = event_backlog or max(10_000, 10 * queue_limit)
        self._pending = 0
        self._wakeup: asyncio.Event | None = None
        self._idle: asyncio.Event | None = None
        self._driver: asyncio.Task[None] | None = None
        self._closing = False
        self._log_writer = LogWriter()
        self._log_on = False
        self._log_checked = -math.inf

    # ----------------------------------------------------------------- public API

    def submit(
        self,
        flow: str,
        text: str,
        *,
        model: str | None = None,
        instruction: str | None = None,
        options: dict[str, Any] | None = None,
        timeout: float | None = None,
        owner: str | None = None,
        uri: str | None = None,
    ) -> str:
        """Start ``flow`` on ``text``; the id at once, or a :class:`CommandError`."""
        if self._closing:
            raise InvalidRequest("the command table is shutting down and takes no new flows")
        try:
            definition = self._catalog.get(flow)
        except FlowError as exc:
            raise UnknownFlow(str(exc)) from None
        if not isinstance(text, str):
            raise InvalidRequest("text: must be a string")
        instruction = instruction if instruction and instruction.strip() else definition.instruction
        if definition.needs_instruction and not instruction:
            raise InvalidRequest(
                f"instruction: the {flow!r} flow needs an instruction "
                "(what to do, e.g. 'make it more formal')"
            )
        if timeout is not None and (
            isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0
        ):
            raise InvalidRequest("timeout: must be a positive number of seconds")
        if self._pending >= self._queue_limit:
            raise QueueFull(
                f"the queue is full: {self._pending} flows are waiting or running "
                f"(limit {self._queue_limit}); try again when some finish, or cancel some"
            )
        models, step_options = self._resolve(definition.steps, model or definition.model, options)
        self._start_driver()
        now = self._clock.now()
        seconds = float(timeout) if timeout is not None else definition.timeout
        rec = FlowRecord(
            id=str(next(self._ids)),
            flow=definition,
            text=text,
            owner=owner,
            uri=uri,
            instruction=instruction,
            models=models,
            options=step_options,
            deadline=now + seconds,
            timeout=seconds,
            created=now,
            created_wall=self._clock.wall(),
        )
        self._flows[rec.id] = rec
        self._pending += 1
        assert self._idle is not None
        self._idle.clear()
        self._push_timer(rec.deadline, "deadline", rec)
        self._transition(rec, "queued")
        self._start_step(rec, text)
        self._wake()
        return rec.id

    def events(self) -> EventStream:
        """Subscribe to flow state changes (from now on, in order)."""
        stream = EventStream(self._event_backlog, self._unsubscribe)
        self._streams.append(stream)
        return stream

    async def wait(self, fid: str) -> FlowState:
        """The flow's state once it has left queued/running."""
        rec = self._record(fid)
        if rec.state in PENDING:
            future: asyncio.Future[FlowState] = asyncio.get_running_loop().create_future()
            rec.waiters.append(future)
            return await future
        return rec.state

    def claim(self, fid: str) -> str:
        """The proposal of a ready flow; the flow becomes ``merged``."""
        rec = self._record(fid)
        if rec.state in PENDING:
            raise NotReady(f"flow {fid} is still {rec.state}; wait for it to be ready")
        if rec.state != "ready":
            raise Gone(fid, rec.state, rec.reason)
        assert rec.proposal is not None
        self._transition(rec, "merged")
        self._retire(rec)
        return rec.proposal

    def merge(self, fid: str, current: str) -> Any:
        """Claim the proposal and merge it into ``current`` (base: the snapshot sent)."""
        return self.merger(fid)(current)

    def merger(self, fid: str) -> Callable[[str], Any]:
        """Claim the proposal now; the merge of it into a current text is pure and may
        run on any thread (a large one need not stall the loop)."""
        from ..merge import MergePolicy, merge

        rec = self._record(fid)
        proposal = self.claim(fid)
        policy = MergePolicy(**rec.flow.merge_policy) if rec.flow.merge_policy else None
        return functools.partial(merge, rec.text, theirs=proposal, policy=policy)

    def cancel(self, fid: str, reason: str = "cancelled on request") -> bool:
        """Cancel one flow that has no final state yet; False if there was nothing to cancel.

        ``reason`` is what the user is told (and what the dead letter records), so a
        flow cancelled by a shutdown does not read as if the user had cancelled it."""
        rec = self._flows.get(fid)
        if rec is None or not (rec.state in PENDING or rec.state == "ready"):
            return False
        self._end(rec, "cancelled", reason)
        return True

    def cancel_owner(self, owner: str, reason: str = "cancelled on request") -> int:
        """Cancel every unfinished flow of one client; how many were cancelled."""
        ids = [rec.id for rec in self._flows.values() if rec.owner == owner]
        return sum(self.cancel(fid, reason) for fid in ids)

    def cancel_all(self, reason: str = "cancelled on request") -> int:
        """Cancel every unfinished flow; how many were cancelled."""
        return sum(self.cancel(fid, reason) for fid in list(self._flows))

    def owner(self, fid: str) -> str | None:
        """Who started a flow the table still remembers (its row, else its dead letter).

        Lets a server check ownership without a second record of every id; a
        forgotten id is :class:`UnknownId`."""
        rec = self._flows.get(fid)
        if rec is not None:
            return rec.owner
        dead = self._dead.get(fid)
        if dead is not None:
            owner: str | None = dead["owner"]
            return owner
        raise UnknownId(f"no flow with id {fid!r} (it never existed or was forgotten)")

    def rows(self) -> list[dict[str, Any]]:
        """One row per flow the table remembers, oldest first."""
        now = self._clock.now()
        return [self._row(rec, now) for rec in self._flows.values()]

    def dead_letters(self) -> list[dict[str, Any]]:
        """The most recent flows that ended without a usable result, oldest first."""
        return [dict(entry) for entry in self._dead.values()]

    @property
    def pending(self) -> int:
        """How many flows are queued or running."""
        return self._pending

    async def aclose(self, grace: float = 5.0, reason: str = "shutting down") -> None:
        """Refuse new flows, let running ones finish for ``grace`` seconds, cancel the rest
        (telling their owners ``reason``)."""
        self._closing = True
        if grace > 0 and self._pending and self._idle is not None:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._idle.wait(), grace)
        self.cancel_all(reason)
        if self._driver is not None:
            self._driver.cancel()
            await asyncio.gather(self._driver, return_exceptions=True)
            self._driver = None
        if self._wake_timer is not None:
            self._wake_timer.cancel()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for stream in list(self._streams):
            stream.close()
        await asyncio.to_thread(self._log_writer.wait)

    # ---------------------------------------------------------------- the driver

    def _start_driver(self) -> None:
        if self._driver is None:
            self._wakeup = asyncio.Event()
            self._idle = asyncio.Event()
            self._driver = asyncio.get_running_loop().create_task(self._drive())

    async def _drive(self) -> None:
        assert self._wakeup is not None
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            try:
                self._advance()
            except Exception:  # a bug must not stop every other flow
                logging.getLogger(__name__).exception("command table driver")

    def _wake(self) -> None:
        if self._wakeup is not None:
            self._wakeup.set()

    def _advance(self) -> None:
        """One turn of the driver: replies, then due timers, then start what may start."""
        while self._replies:
            self._take_reply(*self._replies.popleft())
        now = self._clock.now()
        while self._timers and self._timers[0][0] <= now:
            _, _, kind, target = heapq.heappop(self._timers)
            self._fire(kind, target)
        self._dispatch()
        self._schedule_wake()

    def _fire(self, kind: str, target: Any) -> None:
        if kind == "deadline" and target.state in PENDING:
            self._end(target, "timed_out", f"no answer within its deadline of {target.timeout:g} s")
        elif kind == "expire" and target.state == "ready":
            self._end(target, "expired", f"the result was not claimed within {self._ttl:g} s")
        elif kind == "retry" and target.state == "retry":
            target.state = "waiting"
            self._waiting[target.model.model_id].append(target)

    def _dispatch(self) -> None:
        for model_id, waiting in self._waiting.items():
            running = self._running.get(model_id, 0)
            while waiting:
                call = waiting[0]
                if call.state != "waiting":
                    waiting.popleft()
                    continue
                if running >= max(1, int(call.model.max_concurrency)):
                    break
                waiting.popleft()
                running += 1
                self._launch(call)
            self._running[model_id] = running

    def _launch(self, call: Call) -> None:
        call.state = "running"
        call.attempts += 1
        rec = call.flow
        rec.attempts += 1
        if rec.state == "queued":
            self._transition(rec, "running")
        task = asyncio.get_running_loop().create_task(self._run(call))
        call.task = task
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, call: Call) -> None:
        """Run one model call and post its outcome; the driver decides what it means."""
        outcome: str | BaseException
        response = call.model.respond(call.prompt)
        try:
            outcome = await response.text()
        except asyncio.CancelledError:
            if response.done and self._logging():
                self._log_writer.add(response_row(response, call.flow.flow.name))
            return
        except Exception as exc:  # any failure becomes the flow's error, never the loop's
            outcome = exc
        self._replies.append((call, outcome, self._clock.now()))
        self._wake()
        if self._logging():
            self._log_writer.add(response_row(response, call.flow.flow.name))

    def _take_reply(self, call: Call, outcome: str | BaseException, arrived: float) -> None:
        rec = call.flow
        if call.state != "running":
            if arrived >= rec.history[-1][1]:
                self._late_reply(rec, arrived)
            return
        self._release(call)
        call.state = "done"
        if arrived > rec.deadline:
            if rec.state in PENDING:
                self._end(rec, "timed_out", f"no answer within its deadline of {rec.timeout:g} s")
            self._late_reply(rec, arrived)
            return
        if isinstance(outcome, BaseException):
            self._call_failed(call, outcome)
            return
        rec.answers[call.index] = outcome
        rec.outstanding -= 1
        if rec.outstanding == 0:
            self._finish_step(rec)

    def _call_failed(self, call: Call, error: BaseException) -> None:
        rec = call.flow
        if isinstance(error, ModelError) and error.transient and call.attempts <= self._retries:
            delay = min(self._backoff_max, self._backoff * 2 ** (call.attempts - 1))
            delay *= 0.5 + 0.5 * self._rng.random()
            # never sooner than the server asked (a 429's Retry-After): earlier is refused again
            delay = max(delay, error.retry_after or 0.0)
            call.state = "retry"
            self._push_timer(self._clock.now() + delay, "retry", call)
            self._emit(rec, f"{error}; retry {call.attempts} of {self._retries} in {delay:.1f} s")
            return
        if isinstance(error, ModelError):
            tries = f" after {call.attempts} attempts" if call.attempts > 1 else ""
            self._end(rec, "failed", f"{rec.model_id}: {error}{tries}")
        else:
            self._end(rec, "failed", f"internal error: {error!r}", code="internal")

    # ------------------------------------------------------------ flow progress

    def _start_step(self, rec: FlowRecord, text: str) -> None:
        """Split ``text`` for this step's model and queue one call per chunk."""
        step = rec.flow.steps[rec.step]
        model = rec.models[rec.step]
        system, user = step.template.render("", rec.instruction)
        overhead = model.count_tokens((system or "") + user)
        budget = max(MIN_CHUNK_TOKENS, (model.context_tokens - overhead) // 2)
        rec.chunks = split_text(text, budget, model.count_tokens)
        rec.answers = [None] * len(rec.chunks)
        rec.calls = []
        for index, chunk in enumerate(rec.chunks):
            if not chunk.strip():
                rec.answers[index] = chunk
                continue
            system, user = step.template.render(chunk, rec.instruction)
            call = Call(rec, index, model, Prompt(user, system, rec.options[rec.step], chunk))
            rec.calls.append(call)
            self._waiting.setdefault(model.model_id, deque()).append(call)
        rec.outstanding = len(rec.calls)
        if rec.outstanding == 0:
            self._finish_step(rec)

    def _finish_step(self, rec: FlowRecord) -> None:
        """Clean and check every chunk's answer, reassemble, then the next step or ready."""
        step = rec.flow.steps[rec.step]
        parts = []
        try:
            for chunk, answer in zip(rec.chunks, rec.answers, strict=True):
                assert answer is not None
                cleaned = clean_output(answer, chunk, keep_line_breaks=step.keep_line_breaks)
                check_rewrite(chunk, cleaned, step.max_rewrite)
                parts.append(cleaned)
        except Rejected as exc:
            self._end(rec, "failed", str(exc))
            return
        text = "".join(parts)
        rec.step += 1
        if rec.step < len(rec.flow.steps):
            self._start_step(rec, text)
            return
        rec.proposal = text
        self._leave_pending(rec)
        self._transition(rec, "ready")
        self._push_timer(self._clock.now() + self._ttl, "expire", rec)

    def _end(self, rec: FlowRecord, state: FlowState, reason: str, code: str | None = None) -> None:
        """Move a flow to a final state with no result; stop its calls."""
        for call in rec.calls:
            if call.state == "running":
                self._release(call)
                if call.task is not None:
                    call.task.cancel()
            if call.state != "done":
                call.state = "dropped"
        if rec.state in PENDING:
            self._leave_pending(rec)
        rec.error = code or ERROR_CODES[state]
        rec.reason = reason
        rec.proposal = None
        dead = state in DEAD
        if dead:
            self._dead_letter(rec, state, reason)
        self._transition(rec, state, reason, dead_lettered=dead)
        self._retire(rec)

    def _late_reply(self, rec: FlowRecord, arrived: float) -> None:
        """A reply for a flow that already ended: drop it, and say so in the dead letters."""
        rec.late_replies += 1
        reason = (
            f"{rec.reason}; a reply arrived {arrived - rec.created:.1f} s after the start "
            f"(after the flow was {rec.state.replace('_', ' ')}) and was dropped"
        )
        entry = self._dead.get(rec.id)
        if entry is None:
            self._dead_letter(rec, rec.state, reason)
        else:
            entry.update(reason=reason, lateReplies=rec.late_replies)
            self._deliver(entry)

    # ------------------------------------------------------------------ helpers

    def _resolve(
        self, steps: tuple[Any, ...], model: str | None, options: dict[str, Any] | None
    ) -> tuple[list[Any], list[Any]]:
        """Each step's model and validated options (call options go to unpinned steps)."""
        models, merged = [], []
        for step in steps:
            try:
                instance = self._registry.get_model(step.model or model)
            except UnknownModelError as exc:
                raise UnknownModel(str(exc)) from None
            except (ConfigError, ModelError) as exc:
                raise InvalidRequest(f"model: {exc}") from None
            if step.template.needs_instruction and not instance.follows_instructions:
                raise InvalidRequest(
                    f"model: {instance.model_id!r} cannot follow an instruction "
                    f"({instance.describe()}); this flow needs a language model: "
                    "pick one with -m/model, or configure one (docs/models.md)"
                )
            overrides = {**step.options, **(options or {} if step.model is None else {})}
            try:
                merged.append(instance.default_options.merged(overrides))
            except ValidationError as exc:
                explain = type(instance.default_options).explain
                raise InvalidRequest(f"options: {explain(exc)}") from None
            models.append(instance)
        return models, merged

    def _record(self, fid: str) -> FlowRecord:
        rec = self._flows.get(fid)
        if rec is not None:
            return rec
        dead = self._dead.get(fid)
        if dead is not None:
            raise Gone(fid, dead["state"], dead["reason"])
        raise UnknownId(f"no flow with id {fid!r} (it never existed or was forgotten)")

    def _release(self, call: Call) -> None:
        self._running[call.model.model_id] -= 1

    def _leave_pending(self, rec: FlowRecord) -> None:
        self._pending -= 1
        if self._pending == 0 and self._idle is not None:
            self._idle.set()

    def _transition(
        self,
        rec: FlowRecord,
        state: FlowState,
        message: str | None = None,
        dead_lettered: bool = False,
    ) -> None:
        rec.state = state
        rec.history.append((state, self._clock.now()))
        if state not in PENDING:
            for waiter in rec.waiters:
                if not waiter.done():
                    waiter.set_result(state)
            rec.waiters.clear()
        error = rec.error if state in DEAD or state == "cancelled" else None
        event = Event(rec.id, state, rec.owner, message, error, dead_lettered)
        for stream in list(self._streams):  # a stream that fell behind leaves the list
            stream.put(event)

    def _emit(self, rec: FlowRecord, message: str) -> None:
        event = Event(rec.id, rec.state, rec.owner, message)
        for stream in list(self._streams):
            stream.put(event)

    def _retire(self, rec: FlowRecord) -> None:
        """Remember finished flows for ``rows`` until ``history_limit`` newer ones finished."""
        self._finished.append(rec.id)
        while len(self._finished) > self._history_limit:
            old = self._flows.get(self._finished.popleft())
            if old is not None and old.state not in PENDING and old.state != "ready":
                del self._flows[old.id]

    def _dead_letter(self, rec: FlowRecord, state: str, reason: str) -> None:
        entry = {
            "id": rec.id,
            "flow": rec.flow.name,
            "model": rec.model_id,
            "owner": rec.owner,
            "uri": rec.uri,
            "state": state,
            "reason": reason,
            "attempts": rec.attempts,
            "lateReplies": rec.late_replies,
            "created": rec.created_wall,
            "finished": rec.wall(self._clock.now()),
        }
        self._dead[rec.id] = entry
        while len(self._dead) > self._dead_limit:
            self._dead.popitem(last=False)
        self._deliver(entry)

    def _deliver(self, entry: dict[str, Any]) -> None:
        """Hand a new or updated dead letter to the log and to ``on_dead_letter``."""
        if self._logging():
            self._log_writer.add(dead_letter_row(entry))
        if self._on_dead_letter is not None:
            self._on_dead_letter(dict(entry))

    def _logging(self) -> bool:
        """Whether to log (``llm-flows logs on|off`` or the config's ``log`` key), looked
        at again at most once a second: it costs a stat, and flows are many."""
        now = self._clock.now()
        if now >= self._log_checked + LOG_CHECK_SECONDS:
            self._log_on = logging_enabled(self._registry.config)
            self._log_checked = now
        return self._log_on

    def _push_timer(self, when: float, kind: str, target: Any) -> None:
        heapq.heappush(self._timers, (when, next(self._seq), kind, target))
        self._wake()

    def _schedule_wake(self) -> None:
        if not self._timers:
            return
        when = self._timers[0][0]
        if self._wake_at is not None and self._wake_at <= when:
            return
        if self._wake_timer is not None:
            self._wake_timer.cancel()
        self._wake_at = when
        self._wake_timer = self._clock.call_at(when, self._on_timer)

    def _on_timer(self) -> None:
        self._wake_at = None
        self._wake_timer = None
        self._wake()

    def _unsubscribe(self, stream: EventStream) -> None:
        if stream in self._streams:
            self._streams.remove(stream)

    def _row(self, rec: FlowRecord, now: float) -> dict[str, Any]:
        return {
            "id": rec.id,
            "flow": rec.flow.name,
            "model": rec.model_id,
            "state": rec.state,
            "owner": rec.owner,
            "uri": rec.uri,
            "age": round(now - rec.created, 3),
            "created": rec.created_wall,
            "deadlineIn": round(rec.deadline - now, 3) if rec.state in PENDING else None,
            "attempts": rec.attempts,
            "chunks": len(rec.chunks),
            "step": min(rec.step + 1, len(rec.flow.steps)),
            "steps": len(rec.flow.steps),
            "error": rec.error,
            "reason": rec.reason,
            "lateReplies": rec.late_replies,
            "history": [{"state": s, "at": rec.wall(t)} for s, t in rec.history],
        }
