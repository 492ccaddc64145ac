"""sgserver.py - what the server tests (test-*.py here) share.

  * sandbox(), parse_env(): scripts/sandbox CMD --dir DIR and the
    NAME=value lines "up" prints;
  * SandboxTestCase: a unittest.TestCase class whose tests share one
    sandbox, up before the first test and down after the last (always),
    its directory kept on failure or with SG_KEEP=1;
  * KeepOnFailure: the test case base that notes a failure for that;
  * main(): the runner: test names (substrings) from the command line,
    unittest's verbose output, "N passed, N failed" as the last line;
  * crlf(), header_names(): message helpers.

Python 3 standard library only.  The test scripts import it from their own
directory (sys.path[0]) and set sys.dont_write_bytecode first, so that a
run leaves no __pycache__ in the source tree.
"""

import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SANDBOX = os.path.join(TOP, "scripts", "sandbox")


def crlf(b):
    """Normalise line endings to CRLF."""
    return b.replace(b"\r\n", b"\n").replace(b"\r", b"\n").replace(b"\n", b"\r\n")


def header_names(block):
    return [ln.split(b":", 1)[0].lower() for ln in block.split(b"\r\n")
            if ln and ln[:1] not in (b" ", b"\t")]


def sandbox(cmd, d, env=None, timeout=600):
    """scripts/sandbox CMD --dir D -> (exit status, stdout, stderr)"""
    e = dict(os.environ)
    if env is not None:
        e = env
    p = subprocess.run([SANDBOX, cmd, "--dir", d], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, env=e, timeout=timeout)
    return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")


def parse_env(text):
    """the NAME=value lines of "sandbox up" -> dict"""
    return dict(ln.split("=", 1) for ln in text.splitlines() if "=" in ln)


def remove_unless_kept(path, failed, what="sandbox directory"):
    """rm -r PATH, unless a test failed or SG_KEEP=1 (then say where it is)"""
    if failed or os.environ.get("SG_KEEP") == "1":
        sys.stderr.write("%s kept: %s\n" % (what, path))
    else:
        shutil.rmtree(path, ignore_errors=True)


class KeepOnFailure(unittest.TestCase):
    """Sets the class's failed when one of its tests fails (the sandbox
    directories are kept then); with timed, prints each test's time."""
    failed = False
    timed = False

    def run(self, result=None):
        t0 = time.time()
        r = super().run(result)
        if self.timed:
            sys.stderr.write("  (%s: %.1fs)\n" % (self._testMethodName, time.time() - t0))
        if result is not None and not result.wasSuccessful():
            type(self).failed = True
        return r


class SandboxTestCase(KeepOnFailure):
    """One sandbox for all tests of the class: "up" in setUpClass (env: the
    NAME=value lines it printed, tmp: its --dir, a new directory named
    PREFIX...), "down" when the class is done, also after a failed "up".
    SANDBOX_DEFAULTS: variables for scripts/sandbox, unless the
    environment sets them."""
    prefix = "smimeguard-server-"
    sandbox_defaults = {}
    env = None
    tmp = None

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix=cls.prefix)
        cls.addClassCleanup(cls.sandbox_down)
        t0 = time.time()
        env = dict(os.environ)
        for name, value in cls.sandbox_defaults.items():
            env.setdefault(name, value)
        rc, out, err = sandbox("up", cls.tmp, env=env)
        if rc != 0:
            cls.failed = True
            sys.stderr.write(err)
            raise RuntimeError("scripts/sandbox up failed (%d)" % rc)
        cls.env = parse_env(out)
        sys.stderr.write("sandbox up in %.1fs: %s\n" % (time.time() - t0, cls.tmp))

    @classmethod
    def sandbox_down(cls):
        if cls.tmp is None:
            return
        subprocess.run([SANDBOX, "down", "--dir", cls.tmp],
                       stdout=subprocess.DEVNULL, timeout=120)
        remove_unless_kept(cls.tmp, cls.failed)


class _Result(unittest.TextTestResult):
    """passed: the tests that passed, none of their subtests failing"""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.passed = []
        self.sub_failed = set()

    def addSubTest(self, test, subtest, err):
        super().addSubTest(test, subtest, err)
        if err is not None:
            self.sub_failed.add(test.id())

    def addSuccess(self, test):
        super().addSuccess(test)
        if test.id() not in self.sub_failed:
            self.passed.append(test.id())


def main(case, skips_allowed=False):
    """Run the tests of CASE (all, or those whose id contains one of the
    arguments); print "N passed, N failed" last; 0 when all passed.  A
    skipped test counts as failed, unless SKIPS_ALLOWED (not applicable:
    it counts as neither, and their number is printed before)."""
    prog = os.path.basename(sys.argv[0])
    if os.geteuid() != 0:
        print("%s: must run as root (the sandbox starts servers)" % prog)
        print("0 passed, 1 failed")
        return 1
    suite = unittest.defaultTestLoader.loadTestsFromTestCase(case)
    if len(sys.argv) > 1:
        suite = unittest.TestSuite(t for t in suite
                                   if any(a in t.id() for a in sys.argv[1:]))
    total = suite.countTestCases()
    runner = unittest.TextTestRunner(verbosity=2, resultclass=_Result,
                                     stream=sys.stdout)
    t0 = time.time()
    result = runner.run(suite)
    passed = len(result.passed)
    skipped = len(result.skipped) if skips_allowed else 0
    print("time: %.1fs" % (time.time() - t0))
    if skipped:
        print("skipped: %d (not applicable to this sandbox)" % skipped)
    print("%d passed, %d failed" % (passed, total - passed - skipped))
    return 0 if passed + skipped == total else 1
