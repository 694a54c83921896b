"""The command table under load: 10,000 flows through a scripted 50 ms model, 64 at a time.

Prints, beside the ideal (N x latency / concurrency) and a bare-model anchor run
in the same process:
- wall time for all flows;
- our CPU per flow beyond the model's (table CPU minus the bare run's CPU, / N);
- peak memory (traced Python allocations during the table run);
- how late deadlines fire (p50/p99), measured on 2,000 flows of a hanging model
  with deadlines spread over 0.5-3 s, while the 10,000 flows run.

Run: ``.venv/bin/python bench/commands.py`` (about 15 s).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
N = 10_000
LATENCY = 0.05
CONCURRENCY = 64
DEADLINED = 2_000


def write_config(folder: Path) -> Path:
    path = folder / "config.toml"
    path.write_text(
        f'plugins = ["{ROOT / "tests" / "plugins" / "scripted.py"}"]\n'
        'default_model = "fast"\n'
        f'[models.fast]\nbackend = "scripted"\ndelay = {LATENCY}\n'
        f"max_concurrency = {CONCURRENCY}\n"
        f'[models.hang]\nbackend = "scripted"\nmax_concurrency = {DEADLINED}\n'
        'rules = [{ when = "", hang = true }]\n',
        encoding="utf-8",
    )
    return path


async def bare_model(registry: object) -> tuple[float, float]:
    """CPU and wall seconds of the model alone: N calls, 64 at a time, no table."""
    from llm_flows.models import Prompt

    model = registry.get_model("fast")  # type: ignore[attr-defined]
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(i: int) -> None:
        async with gate:
            await model.respond(Prompt(f"text {i}", input=f"text {i}")).text()

    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(N)))
    return time.process_time() - cpu, time.perf_counter() - wall


async def through_table(registry: object, catalog: object, trace: bool) -> dict[str, float]:
    """Run the flows (and the deadlined ones); with ``trace``, only memory is meaningful."""
    from llm_flows.commands import CommandTable

    table = CommandTable(registry, catalog, queue_limit=N + DEADLINED)  # type: ignore[arg-type]
    events = table.events()
    deadlines: dict[str, float] = {}
    lateness: list[float] = []

    async def watch() -> None:
        async for event in events:
            if event.state == "timed_out":
                lateness.append(time.monotonic() - deadlines[event.id])
                if len(lateness) == DEADLINED:
                    return

    watcher = asyncio.create_task(watch())
    if trace:
        tracemalloc.start()
    cpu, wall = time.process_time(), time.perf_counter()
    ids = [table.submit("correct", f"flow {i} text") for i in range(N)]
    for i in range(DEADLINED):
        timeout = 0.5 + 2.5 * i / DEADLINED
        fid = table.submit("correct", f"hang {i}", model="hang", timeout=timeout)
        deadlines[fid] = time.monotonic() + timeout
    states = [await table.wait(fid) for fid in ids]
    for fid in ids:
        table.claim(fid)
    elapsed = time.perf_counter() - wall
    cpu = time.process_time() - cpu
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    await watcher
    await table.aclose(grace=0)
    assert states.count("ready") == N, "every flow must be ready"
    lateness.sort()
    return {
        "wall": elapsed,
        "cpu": cpu,
        "peak": peak,
        "p50": statistics.median(lateness),
        "p99": lateness[int(len(lateness) * 0.99) - 1],
        "max": lateness[-1],
    }


async def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        os.environ["LLM_FLOWS_CONFIG"] = str(write_config(Path(folder)))
        from llm_flows.config import load_config
        from llm_flows.flows import load_flows
        from llm_flows.models import Registry

        config = load_config()
        registry = Registry(config)
        catalog = load_flows(config)
        model_cpu, model_wall = await bare_model(registry)
        r = await through_table(registry, catalog, trace=False)
        peak = (await through_table(registry, catalog, trace=True))["peak"]
    ideal = N * LATENCY / CONCURRENCY
    per_flow = peak / (N + DEADLINED)
    print(f"{N} flows, scripted model {LATENCY * 1000:.0f} ms, concurrency {CONCURRENCY}")
    ideal_text = f"ideal N x latency / concurrency {ideal:.2f} s"
    print(f"  wall time            {r['wall']:.2f} s ({ideal_text})")
    print(f"  bare model wall time {model_wall:.2f} s (same calls under a semaphore, no table)")
    print(f"  CPU per flow, total  {r['cpu'] / N * 1e6:.0f} us")
    print(f"  CPU of the bare model{model_cpu / N * 1e6:6.0f} us per call (same calls, no table)")
    print(f"  our overhead         {(r['cpu'] - model_cpu) / N * 1e6:.0f} us per flow")
    print(f"  peak traced memory   {peak / 1e6:.1f} MB ({per_flow:.0f} B per flow, separate run)")
    print(
        f"  deadline lateness    p50 {r['p50'] * 1000:.1f} ms, p99 {r['p99'] * 1000:.1f} ms, "
        f"max {r['max'] * 1000:.1f} ms ({DEADLINED} deadlines under the same load)"
    )


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    asyncio.run(main())
