"""llm-flows: run LLM flows on a snapshot of an editor region; merge the result back by words."""

__version__ = "0.1.0"
