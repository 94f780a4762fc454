"""Print maps and slides with matplotlib: PNG, SVG and PDF exports."""

__all__ = [
    "slides",
    "static_map",
]
