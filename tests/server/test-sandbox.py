#!/usr/bin/env python3
"""test-sandbox.py - scripts/sandbox itself: side by side, and nothing
outside its --dir.

  * two sandboxes started at the same time run side by side (their own
    ports, Dovecot instance, Postfix, daemons): mail goes through each
    one's SMTP port to its own IMAP, and doveadm smime works in both;
  * the doveadm plugin that Dovecot loads only from its system module
    directory stays while a sandbox still uses it: a sandbox of another
    build neither replaces nor removes it, "down" of the first leaves it
    and doveadm smime keeps working in the second; "down" of the last one
    removes a copy a sandbox installed;
  * a sandbox writes nothing outside its --dir but what its manual page
    lists (the doveadm plugin, /var/lib/smimeguard-sandbox, the
    smimeguard-vmail user): the system mail directories and the source
    tree are as they were;
  * without SG_BUILD a sandbox builds in DIR/build (scripts/build-tree)
    and never writes into the source tree.

Python 3 standard library; run as root.

Environment:
  SG_BUILD      configured and built smimeguard tree (passed to the first
                two sandboxes; the last test runs without it).
  SG_KEEP=1     keep the sandbox directories (kept anyway on failure).

Arguments: substrings of test names to run (default: all).

Prints "N passed, N failed" (test methods) as its last line; exits 1 on
any failure.
"""

import hashlib
import imaplib
import os
import shutil
import smtplib
import subprocess
import sys
import tempfile
import threading
import time

sys.dont_write_bytecode = True      # no __pycache__ in the source tree
import sgserver                     # noqa: E402 (tests/server/sgserver.py)
from sgserver import TOP, parse_env, sandbox    # noqa: E402
DOVEADM_PLUGIN = "/usr/lib/dovecot/modules/doveadm/lib10_doveadm_smime_plugin.so"
REGISTRY = "/var/lib/smimeguard-sandbox"
# system state a sandbox must leave alone (a system Postfix or Dovecot
# that is not running keeps these still)
SYSTEM_DIRS = ["/etc/postfix", "/etc/dovecot", "/var/spool/postfix",
               "/var/lib/postfix", "/var/lib/dovecot", "/run/dovecot",
               "/var/mail", "/usr/lib/dovecot/modules"]


def snapshot(paths, skip=()):
    """{path: (mtime_ns, size, mode)} of everything under PATHS"""
    out = {}
    for top in paths:
        if not os.path.lexists(top):
            continue
        for d, dirs, files in os.walk(top):
            dirs[:] = [x for x in dirs if os.path.join(d, x) not in skip]
            for name in [""] + files:
                p = os.path.join(d, name) if name else d
                if p in skip:
                    continue
                try:
                    st = os.lstat(p)
                except FileNotFoundError:
                    continue
                # a directory's mtime changes when a sandbox adds and
                # removes something in it again: compare it too
                out[p] = (st.st_mtime_ns, st.st_size, st.st_mode)
    return out


def diff(before, after):
    changed = [p for p in after if p in before and before[p] != after[p]]
    added = [p for p in after if p not in before]
    removed = [p for p in before if p not in after]
    return sorted(changed), sorted(added), sorted(removed)


def source_files():
    """the source tree's own files (not build products of an in-place
    build, which a parallel make check may write)"""
    out = []
    for sub in ("common", "dovecot-plugin", "postfix-policy", "tools",
                "scripts", "conf.d", "doc"):
        d = os.path.join(TOP, sub)
        if os.path.isdir(d):
            out.append(d)
    return out


def plugin_users():
    try:
        return sorted(open(os.path.join(REGISTRY, "users", f)).read().strip()
                      for f in os.listdir(os.path.join(REGISTRY, "users")))
    except FileNotFoundError:
        return []


def sha256(path):
    try:
        with open(path, "rb") as f:
            return hashlib.sha256(f.read()).hexdigest()
    except FileNotFoundError:
        return None


def sandbox_installed_plugin():
    """the installed doveadm plugin is a copy a sandbox installed"""
    try:
        want = open(os.path.join(REGISTRY, "doveadm.sha256")).read().strip()
    except FileNotFoundError:
        return False
    return sha256(DOVEADM_PLUGIN) == want


class SandboxTest(sgserver.KeepOnFailure):
    tmp = None
    dirs = {}
    envs = {}

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="smimeguard-sbx-")
        os.chmod(cls.tmp, 0o755)
        for name in ("a", "b", "c"):
            cls.dirs[name] = os.path.join(cls.tmp, name)
        cls.addClassCleanup(cls.cleanup)
        cls.skip = set(cls.dirs.values()) | {cls.tmp}
        # the plugin as it was before: a real installation, or a copy
        # another (running) sandbox installed
        cls.plugin_before = os.path.exists(DOVEADM_PLUGIN)
        cls.foreign_plugin = cls.plugin_before and not sandbox_installed_plugin()
        cls.sys_before = snapshot(SYSTEM_DIRS, skip={
            DOVEADM_PLUGIN, os.path.dirname(DOVEADM_PLUGIN)})
        cls.src_before = snapshot(source_files())
        cls.top_entries = sorted(os.listdir(TOP))

    @classmethod
    def cleanup(cls):
        for d in cls.dirs.values():
            if os.path.isdir(d):
                sandbox("down", d, timeout=120)
        sgserver.remove_unless_kept(cls.tmp, cls.failed, "sandbox directories")

    def msg(self, env, name):
        with open(os.path.join(env["MSG_DIR"], name), "rb") as f:
            return f.read()

    def send_and_fetch(self, env, folder):
        """alice's good signed message through SMTP; the flags IMAP shows"""
        user = env["IMAP_USER"]
        rcpt = user.replace("@", "+%s@" % folder)
        s = smtplib.SMTP("127.0.0.1", int(env["SMTP_PORT"]), timeout=30)
        s.sendmail("alice@example.org", [rcpt], self.msg(env, "alice-detached.eml"))
        s.quit()
        m = imaplib.IMAP4("127.0.0.1", int(env["IMAP_PORT"]))
        m.login(user, env["IMAP_PASSWORD"])
        try:
            for _ in range(300):
                typ, d = m.status(folder, "(MESSAGES)")
                if typ == "OK" and b"MESSAGES 1)" in d[0]:
                    break
                time.sleep(0.1)
            else:
                self.fail("%s: no delivery to %s" % (env["STATE_DIR"], folder))
            m.select(folder)
            typ, data = m.fetch("1", "(FLAGS)")
            return data[0].decode()
        finally:
            m.logout()

    def doveadm_status(self, env, folder):
        cmd = env["DOVEADM"].split() + ["smime", "status", "-u", env["IMAP_USER"],
                                        "mailbox", folder, "uid", "1"]
        return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              timeout=60)

    # -----------------------------------------------------------------
    def test_10_side_by_side(self):
        """two sandboxes started at once run side by side"""
        out = {}

        def up(name):
            out[name] = sandbox("up", self.dirs[name])

        threads = [threading.Thread(target=up, args=(n,)) for n in ("a", "b")]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for n in ("a", "b"):
            rc, so, se = out[n]
            self.assertEqual(rc, 0, "sandbox %s up failed:\n%s" % (n, se[-3000:]))
            type(self).envs[n] = parse_env(so)
        a, b = self.envs["a"], self.envs["b"]
        ports_a = {a["SMTP_PORT"], a["IMAP_PORT"], a["SUBMISSION_PORT"]}
        ports_b = {b["SMTP_PORT"], b["IMAP_PORT"], b["SUBMISSION_PORT"]}
        self.assertEqual(len(ports_a), 3)
        self.assertFalse(ports_a & ports_b, "the sandboxes share a port")
        self.assertNotEqual(a["LMTP_SOCKET"], b["LMTP_SOCKET"])
        for n in ("a", "b"):
            env = self.envs[n]
            flags = self.send_and_fetch(env, "side")
            self.assertIn("$SMIMEVerified", flags, "%s: %s" % (n, flags))
            p = self.doveadm_status(env, "side")
            self.assertEqual(p.returncode, 0, "%s: doveadm smime status: %s"
                             % (n, p.stderr.decode(errors="replace")))
            rc, so, _ = sandbox("status", self.dirs[n])
            self.assertEqual(rc, 0, so)
        # each has its own Dovecot: a's users file is not b's
        self.assertNotEqual(open(os.path.join(self.dirs["a"], "dovecot", "users")).read(),
                            open(os.path.join(self.dirs["b"], "dovecot", "users")).read())
        if not self.foreign_plugin:
            self.assertTrue(os.path.exists(DOVEADM_PLUGIN))
            users = plugin_users()
            self.assertIn(self.dirs["a"], users)
            self.assertIn(self.dirs["b"], users)

    def test_15_other_build_leaves_plugin_alone(self):
        """a sandbox of another build does not replace the doveadm plugin
        running sandboxes use"""
        if "b" not in self.envs:
            self.skipTest("test_10 did not bring the sandboxes up")
        build = os.environ.get("SG_BUILD")
        if not build:
            self.skipTest("needs SG_BUILD")
        # build Y: the same programs, a doveadm plugin with other bytes
        y = os.path.join(self.tmp, "build-y")
        os.makedirs(os.path.join(y, "dovecot-plugin", ".libs"))
        for sub in ("postfix-policy", "tools"):
            os.symlink(os.path.join(os.path.abspath(build), sub), os.path.join(y, sub))
        for f in ("lib90_smime_plugin.so", "lib95_imap_smime_plugin.so",
                  "smime_core.so", "lib10_doveadm_smime_plugin.so"):
            shutil.copy(os.path.join(build, "dovecot-plugin", ".libs", f),
                        os.path.join(y, "dovecot-plugin", ".libs", f))
        with open(os.path.join(y, "dovecot-plugin", ".libs",
                               "lib10_doveadm_smime_plugin.so"), "ab") as f:
            f.write(b"\0other build\0")
        before = sha256(DOVEADM_PLUGIN)
        env = dict(os.environ, SG_BUILD=y)
        d = os.path.join(self.tmp, "y")
        self.dirs["y"] = d
        rc, so, se = sandbox("up", d, env=env)
        self.assertEqual(rc, 0, "sandbox up with build Y failed:\n%s" % se[-3000:])
        try:
            self.assertEqual(sha256(DOVEADM_PLUGIN), before,
                             "the doveadm plugin running sandboxes use was replaced")
            if not self.foreign_plugin:
                self.assertIn("doveadm smime uses it", se)
                self.assertIn(d, plugin_users())
            p = self.doveadm_status(self.envs["a"], "side")
            self.assertEqual(p.returncode, 0, p.stderr.decode(errors="replace"))
        finally:
            rc, _, se = sandbox("down", d)
            self.assertEqual(rc, 0, se)
        self.assertEqual(sha256(DOVEADM_PLUGIN), before,
                         "down of Y touched the plugin others use")
        self.assertNotIn(d, plugin_users())

    def test_20_down_keeps_what_another_uses(self):
        """down of one sandbox leaves the doveadm plugin to the other"""
        if "b" not in self.envs:
            self.skipTest("test_10 did not bring the sandboxes up")
        rc, _, se = sandbox("down", self.dirs["a"])
        self.assertEqual(rc, 0, se)
        self.assertTrue(os.path.exists(DOVEADM_PLUGIN),
                        "down of a removed the doveadm plugin b uses")
        self.assertNotIn(self.dirs["a"], plugin_users())
        p = self.doveadm_status(self.envs["b"], "side")
        self.assertEqual(p.returncode, 0, "doveadm smime in b after a went down: %s"
                         % p.stderr.decode(errors="replace"))
        rc, so, _ = sandbox("status", self.dirs["b"])
        self.assertEqual(rc, 0, so)
        # a's processes are gone, b's still answer
        flags = self.send_and_fetch(self.envs["b"], "after-a")
        self.assertIn("$SMIMEVerified", flags)

    def test_30_last_down_removes_its_plugin(self):
        """down of the last user removes a copy a sandbox installed"""
        if "b" not in self.envs:
            self.skipTest("test_10 did not bring the sandboxes up")
        rc, _, se = sandbox("down", self.dirs["b"])
        self.assertEqual(rc, 0, se)
        others = plugin_users()
        if self.foreign_plugin:
            self.assertTrue(os.path.exists(DOVEADM_PLUGIN),
                            "a copy no sandbox installed was removed")
        elif others:
            # another sandbox on this machine (not ours) still uses it
            self.assertTrue(os.path.exists(DOVEADM_PLUGIN))
        else:
            self.assertFalse(os.path.exists(DOVEADM_PLUGIN),
                             "the last sandbox down left its doveadm plugin")

    def test_40_nothing_outside_dir(self):
        """the system mail directories and the source tree are untouched"""
        if "b" not in self.envs:
            self.skipTest("test_10 did not bring the sandboxes up")
        changed, added, removed = diff(
            self.sys_before, snapshot(SYSTEM_DIRS, skip={
                DOVEADM_PLUGIN, os.path.dirname(DOVEADM_PLUGIN)}))
        self.assertEqual((changed, added, removed), ([], [], []),
                         "a sandbox wrote outside its --dir")
        changed, added, removed = diff(self.src_before, snapshot(source_files()))
        self.assertEqual((changed, added, removed), ([], [], []),
                         "a sandbox wrote into the source tree")

    def test_50_default_build_in_dir(self):
        """without SG_BUILD: built in DIR/build, the source tree untouched"""
        env = dict(os.environ)
        env.pop("SG_BUILD", None)
        d = self.dirs["c"]
        t0 = time.time()
        rc, so, se = sandbox("up", d, env=env)
        self.assertEqual(rc, 0, "sandbox up without SG_BUILD failed:\n%s" % se[-3000:])
        sys.stderr.write("sandbox up with its own build: %.1fs\n" % (time.time() - t0))
        c = parse_env(so)
        try:
            for f in ("dovecot-plugin/.libs/lib90_smime_plugin.so",
                      "postfix-policy/smime-policyd", "postfix-policy/smime-milter",
                      "tools/smimectl"):
                self.assertTrue(os.path.exists(os.path.join(d, "build", f)), f)
            flags = self.send_and_fetch(c, "own-build")
            self.assertIn("$SMIMEVerified", flags)
        finally:
            rc, _, se = sandbox("down", d)
            self.assertEqual(rc, 0, se)
        self.assertEqual(sorted(os.listdir(TOP)), self.top_entries,
                         "the sandbox's build wrote into the source tree")
        changed, added, removed = diff(self.src_before, snapshot(source_files()))
        self.assertEqual((changed, added, removed), ([], [], []))


if __name__ == "__main__":
    sys.exit(sgserver.main(SandboxTest))
