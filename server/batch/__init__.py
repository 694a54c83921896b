"""Headless batch correction of files (``llm-flows correct``), with the same flows and merge.

``command`` holds the entry points; the other modules have one job each and import
nothing heavy, so the pure parts (splitting, masking, walking) load on their own.
"""
