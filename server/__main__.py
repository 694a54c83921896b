"""Allow ``python -m llm_flows``."""

from .cli import main

main()
