"""Autoescaping Jinja2 templates for XHTML, SMIL and other XML outputs."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import jinja2


@cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("publisher", "templates"),
        autoescape=True,  # every value is text unless marked safe
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )


def render(name: str, **context: object) -> str:
    """Render template ``name`` with ``context``."""
    return _environment().get_template(name).render(**context)


def read_static(name: str) -> bytes:
    """The bytes of a file shipped beside the templates (CSS, scripts)."""
    return (Path(__file__).parent / name).read_bytes()
