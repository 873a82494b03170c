"""publisher: one Markdown book in; an accessible EPUB 3 with read-along
narration, per-section audio, an audiobook, a podcast feed and library records out.

The public API is the build function and the error tree; the command line is
``publisher`` (see ``publisher --help``). The modules, in the order data flows
through them (build.py alone calls them in that order; see README, Architecture):

    shared      model.py (frozen values), errors.py, options.py, layout.py (every file
                name), cache.py (clip and output caches, code identity), workers.py
                (every child process's lifecycle)
    text in     source.py -> config.py -> parse.py (+ segment.py, spoken.py)
    script      script.py (what is said: lexicon.py applied once, pauses, chapters)
    speech      speech/ (one module per engine, one registry) -> synthesize.py
                (local worker processes) | cluster.py (Dask)
    audio       narrate.py (the audio stage) -> audio/ (profiles, timeline, loudness,
                master, encode, tags, section, m4b; helper.py encodes beside it)
    writers     epub.py (+ overlays.py), cover.py, catalog.py (ONIX, OPDS),
                transcripts.py, feeds.py, manifests.py, site.py, record.py (build.json)
    orchestrate build.py (+ stamp.py, the up-to-date check)
    tools       cli.py (+ progress.py), check.py, proof.py, serve.py, preview.py
                (build, serve, rebuild on save), say.py (a phrase as a book says it)
"""

from __future__ import annotations

from .errors import PublisherError

__version__ = "0.1.0"
__all__ = ["PublisherError", "__version__"]
