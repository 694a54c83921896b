"""When a model's result is dropped instead of merged.

A result is only worth applying while the text still resembles what the model
saw and the model did what was asked (a correction, not a rewrite).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["MergePolicy", "drop_reason"]


@dataclass(frozen=True, slots=True)
class MergePolicy:
    """Thresholds, each a fraction from 0 to 1.

    ``max_divergence``: drop when the user changed more than this of the region.
    ``max_conflict_ratio``: drop when more than this of at least two model changes conflict.
    ``max_rewrite``: drop when the model changed more than this of the region (None: never).
    """

    max_divergence: float = 0.5
    max_conflict_ratio: float = 0.5
    max_rewrite: float | None = None

    def __post_init__(self) -> None:
        for name in ("max_divergence", "max_conflict_ratio", "max_rewrite"):
            value = getattr(self, name)
            if value is None and name == "max_rewrite":
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError(f"MergePolicy.{name} must be a number, not {value!r}")
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"MergePolicy.{name} must be between 0 and 1, not {value!r}")


def drop_reason(
    policy: MergePolicy,
    *,
    region_gone: bool,
    divergence: float,
    rewrite: float,
    conflicts: int,
    model_changes: int,
) -> str | None:
    """A sentence saying why the result must not be applied, or None to apply it."""
    if region_gone:
        return "The region was deleted while the model was working."
    if divergence > policy.max_divergence:
        return (
            f"You changed {divergence:.0%} of the text while the model was working "
            f"(more than {policy.max_divergence:.0%})."
        )
    if policy.max_rewrite is not None and rewrite > policy.max_rewrite:
        return (
            f"The model rewrote {rewrite:.0%} of the text "
            f"(more than {policy.max_rewrite:.0%}); that is not a correction."
        )
    if model_changes >= 2 and conflicts / model_changes > policy.max_conflict_ratio:
        return (
            f"{conflicts} of the model's {model_changes} changes collide with your edits "
            f"(more than {policy.max_conflict_ratio:.0%})."
        )
    return None
