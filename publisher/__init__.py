"""publisher: one Markdown book in; an accessible EPUB 3 with read-along
narration, per-section audio, an audiobook, a podcast feed and library records out.

The public API is the build function and the error tree; the command line is
``publisher`` (see ``publisher --help``).
"""

from __future__ import annotations

from .errors import PublisherError

__version__ = "0.1.0"
__all__ = ["PublisherError", "__version__"]
