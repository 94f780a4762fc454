"""The domain: what a PTCE is, its supports, the selection of PTCE, the récits.

Pure Python and pandas: no SQL, no rendering, no Streamlit.
"""

__all__ = [
    "certitude",
    "errors",
    "model",
    "recits",
    "selection",
    "soutiens",
]
