"""The client layer: a small typed library for the Haoee API. Never imports IPython or ipywidgets.

Its names are exported by the package root (``haoee_jupyter.Client`` ...), which loads each module
on first use; this package imports nothing at import time, so using ``Response`` or an error class
does not load httpx.
"""
