"""Load the shipped third-party JSON schemas into validators, with no network.

``validator("readium", "publication.schema.json")`` gives a Draft 7 validator
whose ``$ref`` lookups resolve from one registry holding every schema here
(README.md says where each comes from and which quirks this loader handles).
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path

import jsonschema
from jsonschema import Draft7Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

HERE = Path(__file__).resolve().parent

#: folder -> the base URIs its files are published (and referenced) under.
BASES = {
    "readium": ("https://readium.org/webpub-manifest/schema/",
                "http://readium.org/webpub-manifest/schema/"),
    "opds": ("https://drafts.opds.io/schema/", "http://drafts.opds.io/schema/"),
    "w3c-pub-manifest": ("https://www.w3.org/ns/pub-schema/manifest/",
                         "https://w3c.github.io/pub-manifest/schema/"),
    "w3c-audiobooks": ("https://www.w3.org/ns/pub-schema/audiobooks/",),
}

_NAMED_GROUP = re.compile(r"\(\?<(?![=!])[A-Za-z][A-Za-z0-9]*>")


def _pattern(validator, pattern, instance, schema):  # type: ignore[no-untyped-def]
    """``pattern`` with ECMAScript named groups read as plain groups."""
    if validator.is_type(instance, "string") and not re.search(_python(pattern), instance):
        yield jsonschema.ValidationError(f"{instance!r} does not match {pattern!r}")


def _pattern_properties(validator, patterns, instance, schema):  # type: ignore[no-untyped-def]
    if not validator.is_type(instance, "object"):
        return
    for pattern, subschema in patterns.items():
        for key, value in instance.items():
            if re.search(_python(pattern), key):
                yield from validator.descend(value, subschema, path=key, schema_path=pattern)


def _additional_properties(validator, additional, instance, schema):  # type: ignore[no-untyped-def]
    """Draft 7 additionalProperties, aware of the translated patternProperties."""
    if not validator.is_type(instance, "object"):
        return
    properties = schema.get("properties", {})
    patterns = [_python(p) for p in schema.get("patternProperties", {})]
    extras = [k for k in instance if k not in properties
              and not any(re.search(p, k) for p in patterns)]
    if validator.is_type(additional, "object"):
        for extra in extras:
            yield from validator.descend(instance[extra], additional, path=extra)
    elif not additional and extras:
        yield jsonschema.ValidationError(f"Additional properties are not allowed ({extras!r})")


@functools.cache
def _python(pattern: str) -> str:
    return _NAMED_GROUP.sub("(?:", pattern)


Validator = jsonschema.validators.extend(Draft7Validator, {
    "pattern": _pattern,
    "patternProperties": _pattern_properties,
    "additionalProperties": _additional_properties,
})


@functools.cache
def registry() -> Registry:
    resources = []
    for folder, bases in BASES.items():
        for path in sorted((HERE / folder).rglob("*.json")):
            contents = json.loads(path.read_text(encoding="utf-8"))
            # Every file is Draft 7; without "$schema", jsonschema keeps using our
            # Validator (with the pattern fix) for referenced schemas too.
            contents.pop("$schema", None)
            resource = Resource.from_contents(contents, default_specification=DRAFT7)
            relative = path.relative_to(HERE / folder).as_posix()
            for base in bases:
                resources.append((base + relative, resource))
    return Registry().with_resources(resources)


def validator(folder: str, name: str) -> jsonschema.protocols.Validator:
    """A validator for ``folder/name`` (e.g. ``"opds", "feed.schema.json"``), formats checked."""
    uri = BASES[folder][0] + name
    schema = registry().contents(uri)
    return Validator(schema, registry=registry(), format_checker=Draft7Validator.FORMAT_CHECKER)


def errors(folder: str, name: str, instance: object) -> list[str]:
    """Every validation error as ``path: message`` (empty when valid)."""
    found = validator(folder, name).iter_errors(instance)
    return sorted(f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in found)
