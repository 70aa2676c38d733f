"""milter_harness.py - shared parts of the cutover-milter integration tests.

Purpose: DKIM keys made at test time (opendkim-genkey for RSA, openssl for
ed25519), a real OpenDKIM in signing mode driven by miltertest to sign the
test messages, the DNS zone for a LoopbackDNS, and a running cutover-milter
(started and stopped by PID) with a generated configuration.

Public names:
  SCRIPTS                the directory of the miltertest Lua scripts
  milter_path()          $CUTOVER_BUILD_DIR/cutover-milter
  Keys(dir)              .rsa / .len / .ed private key paths, .records()
  Signer(keys, alg, ...) an OpenDKIM instance; .sign(text, mailfrom, rcpt)
  zone(keys)             every DNS record the scenarios need
  Milter(config_text)    .start() .stop() .reload(text) .port .log_text()
  miltertest(script, **vars) -> (returncode, stdout+stderr)
  message(frm, subject, extra_headers, body)  an RFC 5322 text (LF)

Invariants: every subprocess has a timeout; every process started here is
stopped by its PID; a sanitizer report in cutover-milter's stderr fails.
"""

import base64
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import cutover_harness as h  # noqa: E402

SCRIPTS = HERE
AUTHSERV_ID = "mx.test.invalid"
CLIENT_IP = "192.0.2.10"


def milter_path():
    path = os.path.join(h.env_path("CUTOVER_BUILD_DIR"), "cutover-milter")
    if not os.access(path, os.X_OK):
        raise AssertionError("%s is not built" % path)
    return path


def miltertest(script, timeout=60, **variables):
    """Run a Lua script of SCRIPTS under miltertest with -D NAME=VALUE."""
    argv = [h.need_tool("miltertest"), "-D", "SCRIPTDIR=" + SCRIPTS]
    for k, v in variables.items():
        argv += ["-D", "%s=%s" % (k, v)]
    argv += ["-s", os.path.join(SCRIPTS, script)]
    r = h.run(argv, timeout=timeout)
    return r.returncode, r.stdout + r.stderr


def message(frm, subject, extra=(), body="hello\nworld\n", to="rcpt@dest.example"):
    """A message text with LF line ends; frm None = no From field, a list =
    several From fields."""
    froms = [] if frm is None else ([frm] if isinstance(frm, str) else frm)
    lines = ["From: %s" % f for f in froms]
    lines += ["To: <%s>" % to, "Subject: %s" % subject,
              "Message-ID: <%s@test.invalid>" % re.sub(r"\W", "", subject),
              "Date: Mon, 23 Nov 2026 06:54:20 +0000"]
    lines += list(extra)
    return "\n".join(lines) + "\n\n" + body


class Keys:
    """RSA keys for rsa.example (selector rsa) and len.example (selector len),
    an ed25519 key for ed.example (selector ed)."""

    def __init__(self, directory):
        self.dir = directory
        self.rsa = self._rsa("rsa.example", "rsa")
        self.len = self._rsa("len.example", "len")
        self.ed, self.ed_pub = self._ed25519()

    def _rsa(self, domain, selector):
        r = h.run([h.need_tool("opendkim-genkey"), "-D", self.dir, "-d",
                   domain, "-s", selector, "-b", "2048"], timeout=60)
        if r.returncode != 0:
            raise AssertionError("opendkim-genkey: " + r.stderr)
        with open(os.path.join(self.dir, selector + ".txt")) as f:
            txt = f.read()
        p = "".join(re.findall(r'"([^"]*)"', txt))
        setattr(self, selector + "_txt", p)
        return os.path.join(self.dir, selector + ".private")

    def _ed25519(self):
        key = os.path.join(self.dir, "ed.pem")
        openssl = h.need_tool("openssl")
        r = h.run([openssl, "genpkey", "-algorithm", "ed25519", "-out", key])
        if r.returncode != 0:
            raise AssertionError("openssl genpkey: " + r.stderr)
        der = subprocess.run([openssl, "pkey", "-in", key, "-pubout",
                              "-outform", "DER"], capture_output=True,
                             timeout=30, check=True).stdout
        return key, base64.b64encode(der[-32:]).decode()

    def records(self):
        return [("rsa._domainkey.rsa.example", "TXT", self.rsa_txt),
                ("len._domainkey.len.example", "TXT", self.len_txt),
                ("ed._domainkey.ed.example", "TXT",
                 "v=DKIM1; k=ed25519; p=" + self.ed_pub)]


def zone(keys):
    """SPF, DKIM and DMARC records of the scenarios (README of the test)."""
    spf_ok = "v=spf1 ip4:%s -all" % CLIENT_IP
    recs = [
        ("rsa.example", "TXT", spf_ok),
        ("_dmarc.rsa.example", "TXT", "v=DMARC1; p=reject"),
        ("ed.example", "TXT", "v=spf1 -all"),
        ("_dmarc.ed.example", "TXT", "v=DMARC1; p=reject; adkim=s"),
        ("len.example", "TXT", "v=spf1 -all"),
        ("_dmarc.len.example", "TXT", "v=DMARC1; p=none"),
        ("reject.example", "TXT", "v=spf1 -all"),
        ("_dmarc.reject.example", "TXT", "v=DMARC1; p=reject"),
        ("quar.example", "TXT", "v=spf1 -all"),
        ("_dmarc.quar.example", "TXT", "v=DMARC1; p=quarantine"),
        ("spfonly.example", "TXT", spf_ok),
        ("_dmarc.spfonly.example", "TXT", "v=DMARC1; p=reject"),
        ("elsewhere.example", "TXT", spf_ok),
    ]
    return recs + keys.records()


def _wait_port(port, proc, what, timeout=10.0):
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise AssertionError("%s exited (%s) at start" % (what,
                                                            proc.returncode))
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            if time.monotonic() >= deadline:
                raise AssertionError("%s did not listen on %d" % (what, port))
            time.sleep(0.05)


def _stop(proc, timeout=10.0):
    """SIGTERM by PID, SIGKILL after timeout; the exit status or None."""
    if proc.poll() is not None:
        return proc.returncode
    os.kill(proc.pid, signal.SIGTERM)
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=timeout)
        return None


class Signer:
    """A real OpenDKIM in signing mode for one domain/selector/key."""

    def __init__(self, domain, selector, key, alg="rsa-sha256",
                 body_length=False):
        self.dir = tempfile.mkdtemp(prefix="cutover-odkim-")
        self.port = h.free_port()
        conf = os.path.join(self.dir, "opendkim.conf")
        lines = ["Mode s", "Socket inet:%d@127.0.0.1" % self.port,
                 "KeyTable refile:%s/keytable" % self.dir,
                 "SigningTable refile:%s/signingtable" % self.dir,
                 "Canonicalization relaxed/simple",
                 "SignatureAlgorithm " + alg, "RequireSafeKeys false",
                 "Background no", "Syslog no", "UMask 022",
                 "PidFile %s/pid" % self.dir]
        if body_length:
            lines.append("BodyLengthDB refile:%s/bodylength" % self.dir)
            with open(os.path.join(self.dir, "bodylength"), "w") as f:
                f.write("*\n")
        with open(conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        with open(os.path.join(self.dir, "keytable"), "w") as f:
            f.write("k1 %s:%s:%s\n" % (domain, selector, key))
        with open(os.path.join(self.dir, "signingtable"), "w") as f:
            f.write("*@%s k1\n" % domain)
        self.proc = subprocess.Popen(
            [h.need_tool("opendkim"), "-f", "-x", conf],
            stdout=subprocess.DEVNULL,
            stderr=open(os.path.join(self.dir, "stderr"), "wb"))
        _wait_port(self.port, self.proc, "opendkim")

    def sign(self, text, mailfrom, rcpt="rcpt@dest.example"):
        """The message with OpenDKIM's DKIM-Signature field on top."""
        path = os.path.join(self.dir, "msg.eml")
        with open(path, "w") as f:
            f.write(text)
        rc, out = miltertest("sign.lua", SOCKET="inet:%d@127.0.0.1"
                             % self.port, MSG=path, IP="127.0.0.1",
                             HELO="signer.example", MAILFROM="<%s>" % mailfrom,
                             RCPT=rcpt)
        m = re.search(r"^SIG:(.*)$", out, re.M)
        if rc != 0 or m is None:
            raise AssertionError("signing failed (%d): %s" % (rc, out))
        sig = m.group(1).replace("\\n", "\n")
        return "DKIM-Signature:" + sig + "\n" + text

    def stop(self):
        _stop(self.proc)
        shutil.rmtree(self.dir, ignore_errors=True)


class Milter:
    """cutover-milter -f on inet:PORT@127.0.0.1 with a generated config."""

    def __init__(self, config_body, resolver):
        self.dir = tempfile.mkdtemp(prefix="cutover-milter-")
        self.port = h.free_port()
        self.socket = "inet:%d@127.0.0.1" % self.port
        self.resolver = resolver
        self.conf = os.path.join(self.dir, "milter.conf")
        self.err_path = os.path.join(self.dir, "stderr")
        self.proc = None
        self.write(config_body)

    def text(self, body):
        return ('socket = "%s"\nauthserv_id = "%s"\nresolver = "%s"\n'
                'dns_timeout = 3\n%s\n' % (self.socket, AUTHSERV_ID,
                                           self.resolver, body))

    def write(self, body, raw=False):
        tmp = self.conf + ".tmp"
        with open(tmp, "w") as f:
            f.write(body if raw else self.text(body))
        os.replace(tmp, self.conf)

    def start(self):
        self.errfile = open(self.err_path, "wb")
        self.proc = subprocess.Popen([milter_path(), "-f", "-c", self.conf],
                                     stdin=subprocess.DEVNULL,
                                     stdout=self.errfile, stderr=self.errfile,
                                     env=h.sanitizer_env())
        try:
            _wait_port(self.port, self.proc, "cutover-milter")
        except AssertionError as e:
            raise AssertionError("%s\n%s" % (e, self.log_text())) from None
        return self

    def log_text(self):
        try:
            with open(self.err_path, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def check_alive(self):
        found = h.sanitizer_report(self.log_text())
        if found:
            raise AssertionError("sanitizer report %s:\n%s"
                                 % (found, self.log_text()))
        if self.proc.poll() is not None:
            raise AssertionError("cutover-milter died (%s):\n%s"
                                 % (self.proc.returncode, self.log_text()))

    def reload(self, body, raw=False):
        """Rewrite the config, SIGHUP, wait for the log line about it."""
        before = self.log_text().count("reload")
        self.write(body, raw)
        os.kill(self.proc.pid, signal.SIGHUP)
        h.wait_for(lambda: self.log_text().count("reload") > before, 10.0,
                   "cutover-milter to log the reload")
        self.check_alive()

    def stop(self):
        if self.proc is None:
            shutil.rmtree(self.dir, ignore_errors=True)
            return
        self.check_alive()
        status = _stop(self.proc)
        self.errfile.close()
        text = self.log_text()
        proc, self.proc = self.proc, None
        shutil.rmtree(self.dir, ignore_errors=True)
        if h.sanitizer_report(text):
            raise AssertionError("sanitizer report at stop:\n" + text)
        if status != 0:
            raise AssertionError("cutover-milter exited %s on SIGTERM:\n%s"
                                 % (status, text))
        return proc
