"""The package version, in a module that imports nothing (models record it in
their artifacts without importing the package root)."""

from __future__ import annotations

__version__ = "0.1.0"
