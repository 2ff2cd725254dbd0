"""The package's version, in a module of its own so the client can name it in its User-Agent
without importing the package root (whose type-checking imports name the client: a circle)."""

__version__ = "0.1.0"
