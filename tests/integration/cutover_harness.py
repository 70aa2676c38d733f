"""cutover_harness.py - shared helper for the integration tests.

Purpose: start a real cutoverd on loopback with a generated configuration,
talk to it with a raw socket client, read its attempt log, and stop it, so
each test file only states what it sends and what README.md says must come
back.  Standard library only.

Public names:
  free_port(host)          a TCP port that is free right now on host
  ipv6_loopback_ok()       True when [::1] can be bound here
  render_config(...)       dict -> libconfuse text (README "Configuration")
  make_self_signed(dir)    openssl req -x509 ... -> (cert, key) paths
  Cutoverd(config, ...)    context manager: a running cutoverd + its log
  check_config(text)       cutoverd -n -c FILE -> (rc, stdout, stderr, path)
  Raw(port, ...)           raw SMTP client: send, read_reply, expect, ...
  Reply                    one (possibly multi-line) SMTP reply
  wait_for(fn, timeout)    poll fn until it returns a true value (bounded)
  main()                   run the module's tests, print "N passed, N failed"

Invariants: nothing here can hang -- every socket operation and every
subprocess has a timeout, every wait is a bounded poll.  Every attempt-log
line read is checked for the fields every line must carry (v, t, host, sid,
ev).  Stopping cutoverd fails the test when its standard error holds a
sanitizer report (the suite also runs under ASan/UBSan) or when it died on
its own.

Why a raw client besides smtplib/swaks: those clients refuse to send the
malformed, pipelined and smuggling byte sequences the tests need, and they
hide the exact reply text the attempt log must repeat.
"""

import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import unittest

HOSTNAME = "mx.test.invalid"
START_TIMEOUT = 10.0
STOP_TIMEOUT = 5.0
IO_TIMEOUT = 5.0
SANITIZER_MARKS = ("AddressSanitizer", "LeakSanitizer", "runtime error:")
EVENTS = ("connect", "refused", "tls", "rcpt", "data", "limit", "disconnect")
T_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
SID_RE = re.compile(r"^[0-9a-f]{16}$")
BARE_KEYS = ("state", "defer_at", "relay_tls")
SECTIONS = ("tls", "limits", "relay", "auth")


def env_path(name):
    """The path in environment variable name (set by ctest); fail if unset."""
    val = os.environ.get(name)
    if not val:
        raise AssertionError("environment variable %s is not set "
                             "(run the suite through ctest)" % name)
    return val


def cutoverd_path():
    path = env_path("CUTOVERD")
    if not os.access(path, os.X_OK):
        raise AssertionError("CUTOVERD=%s is not an executable" % path)
    return path


def need_tool(name):
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    if path is None:
        raise AssertionError("required tool %r is not installed" % name)
    return path


def wait_for(fn, timeout=5.0, what="condition", interval=0.05):
    """Call fn until it returns a true value; fail after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        val = fn()
        if val:
            return val
        if time.monotonic() >= deadline:
            raise AssertionError("timed out after %.1fs waiting for %s"
                                 % (timeout, what))
        time.sleep(interval)


def free_port(host="127.0.0.1"):
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(fam, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def ipv6_loopback_ok():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def quote(val):
    return '"' + val.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render_value(key, val):
    if isinstance(val, bool):
        return "true" if val else "false"
    if isinstance(val, int):
        return str(val)
    if isinstance(val, (list, tuple)):
        return "{ " + ", ".join(quote(v) for v in val) + " }"
    if key in BARE_KEYS:
        return val
    return quote(val)


def render_config(cfg, listen, log_path, hostname=HOSTNAME):
    """Render a dict as cutoverd configuration text.

    Recognised keys: "domains" {name: {key: value}}, "limits" {key: value},
    "tls" {"cert", "key"}, "relay" {key: value} (a section; the relay
    setting of a domain is a string); any other key is written as a
    top-level setting.  A domain's "recipients" {addr: {key: value}} become
    `recipient "addr" { ... }` overrides inside the domain.
    listen, attempt_log and hostname are filled in unless cfg has them.
    Without an "auth" key the checks are off (auth { enabled = false }): a
    test that is not about them must not depend on the machine's DNS.
    """
    out = []
    if "auth" not in cfg:
        cfg = dict(cfg, auth={"enabled": False})
    top = {"listen": ["%s:%d" % (("[%s]" % h) if ":" in h else h, p)
                      for h, p in listen],
           "hostname": hostname, "attempt_log": log_path}
    top.update({k: v for k, v in cfg.items()
                if k != "domains" and k not in SECTIONS})
    for key, val in top.items():
        out.append("%s = %s" % (key, render_value(key, val)))
    for section in SECTIONS:
        if section in cfg:
            out.append("%s {" % section)
            for key, val in cfg[section].items():
                out.append("    %s = %s" % (key, render_value(key, val)))
            out.append("}")
    for name, dom in cfg.get("domains", {}).items():
        out.append("domain %s {" % quote(name))
        for key, val in dom.items():
            if key == "recipients":
                for addr, rcfg in val.items():
                    out.append("    recipient %s {" % quote(addr))
                    for k2, v2 in rcfg.items():
                        out.append("        %s = %s"
                                   % (k2, render_value(k2, v2)))
                    out.append("    }")
                continue
            out.append("    %s = %s" % (key, render_value(key, val)))
        out.append("}")
    return "\n".join(out) + "\n"


def run(argv, timeout=30, **kw):
    """subprocess.run with a timeout and captured text output."""
    return subprocess.run(argv, capture_output=True, timeout=timeout,
                          text=True, errors="replace", **kw)


def make_self_signed(directory):
    cert = os.path.join(directory, "cert.pem")
    key = os.path.join(directory, "key.pem")
    r = run([need_tool("openssl"), "req", "-x509", "-newkey", "rsa:2048",
             "-nodes", "-days", "1", "-subj", "/CN=" + HOSTNAME,
             "-keyout", key, "-out", cert], timeout=60)
    if r.returncode != 0:
        raise AssertionError("openssl req failed: " + r.stderr)
    return cert, key


def sanitizer_report(text):
    return [m for m in SANITIZER_MARKS if m in text]


def sanitizer_env():
    env = dict(os.environ)
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
    env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1")
    return env


def check_config(text, directory=None, name="check.conf"):
    """Run `cutoverd -n -c FILE` on text; return (rc, stdout, stderr, path).
    A sanitizer report in its output fails the calling test."""
    own = directory is None
    directory = directory or tempfile.mkdtemp(prefix="cutover-n-")
    path = os.path.join(directory, name)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    try:
        r = run([cutoverd_path(), "-n", "-c", path], timeout=20,
                env=sanitizer_env())
    finally:
        if own:
            shutil.rmtree(directory, ignore_errors=True)
    found = sanitizer_report(r.stderr + r.stdout)
    if found:
        raise AssertionError("cutoverd -n: sanitizer report %s:\n%s"
                             % (found, r.stderr))
    return r.returncode, r.stdout, r.stderr, path


def check_log_line(obj, raw, hostname):
    """Assert the fields every attempt-log line carries (README schema v1)."""
    where = "log line %r" % raw[:300]
    if not isinstance(obj, dict):
        raise AssertionError("%s: not a JSON object" % where)
    for key in ("v", "t", "host", "sid", "ev"):
        if key not in obj:
            raise AssertionError("%s: missing %r" % (where, key))
    if obj["v"] != 1 or isinstance(obj["v"], bool):
        raise AssertionError("%s: v is %r, want 1" % (where, obj["v"]))
    if not isinstance(obj["t"], str) or not T_RE.match(obj["t"]):
        raise AssertionError("%s: bad t %r" % (where, obj["t"]))
    if obj["host"] != hostname:
        raise AssertionError("%s: host %r, want %r"
                             % (where, obj["host"], hostname))
    if not isinstance(obj["sid"], str) or not SID_RE.match(obj["sid"]):
        raise AssertionError("%s: bad sid %r" % (where, obj["sid"]))
    if obj["ev"] not in EVENTS:
        raise AssertionError("%s: unknown ev %r" % (where, obj["ev"]))


def parse_log(path, hostname=HOSTNAME, complete=False):
    """Every line of the attempt log at path, parsed and checked.

    While cutoverd runs, a last line without its newline may be a write in
    progress and is left for the next poll; with complete=True (cutoverd
    stopped) it is an error."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return []
    pieces = data.split(b"\n")
    tail = pieces.pop()
    if tail and complete:
        raise AssertionError("attempt log %s ends in a partial line %r"
                             % (path, tail[:200]))
    lines = []
    for raw in pieces:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise AssertionError("log line is not valid UTF-8 (%s): %r"
                                 % (e, raw[:300])) from None
        try:
            obj = json.loads(text)
        except ValueError as e:
            raise AssertionError("log line is not valid JSON (%s): %r"
                                 % (e, raw[:300])) from None
        check_log_line(obj, raw, hostname)
        lines.append(obj)
    return lines


class Cutoverd:
    """A running cutoverd with a generated configuration.

    config: a dict for render_config(), or configuration text in which
    @PORT@, @LOG@, @DIR@ and @HOST@ are replaced; text without its own
    listen/hostname/attempt_log gets the harness's ones prepended.
    listen: [(host, port)] (default one free 127.0.0.1 port).
    tls=True makes a self-signed certificate and adds a tls section.
    env: extra environment variables for cutoverd (e.g. ASAN_OPTIONS).
    """

    def __init__(self, config, listen=None, tls=False, hostname=HOSTNAME,
                 env=None):
        self.extra_env = dict(env or {})
        self.binary = cutoverd_path()
        self.dir = tempfile.mkdtemp(prefix="cutover-it-")
        self.hostname = hostname
        self.listen = listen or [("127.0.0.1", free_port())]
        self.host, self.port = self.listen[0]
        self.log_path = os.path.join(self.dir, "attempts.jsonl")
        self.conf_path = os.path.join(self.dir, "cutoverd.conf")
        self.stderr_path = os.path.join(self.dir, "stderr.log")
        self.tls = None
        if tls:
            self.tls = make_self_signed(self.dir)
        self.proc = None
        self.stopped = False
        self.expect_exit = False
        self.write_config(config)

    def config_text(self, config):
        if isinstance(config, dict):
            cfg = dict(config)
            if self.tls and "tls" not in cfg:
                cfg["tls"] = {"cert": self.tls[0], "key": self.tls[1]}
            return render_config(cfg, self.listen, self.log_path,
                                 self.hostname)
        text = (config.replace("@PORT@", str(self.port))
                .replace("@LOG@", self.log_path)
                .replace("@DIR@", self.dir).replace("@HOST@", self.hostname))
        head = render_config({}, self.listen, self.log_path, self.hostname)
        keep = [ln for ln in head.splitlines()
                if not re.search(r"(?m)^\s*%s\s*=" % ln.split()[0], text)]
        return "\n".join(keep) + "\n" + text

    def write_config(self, config):
        """Write the configuration file (used at start and before SIGHUP)."""
        tmp = self.conf_path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(self.config_text(config))
        os.replace(tmp, self.conf_path)

    def start(self):
        self.errfile = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen(
            [self.binary, "-c", self.conf_path], stdin=subprocess.DEVNULL,
            stdout=self.errfile, stderr=self.errfile,
            env=dict(sanitizer_env(), **self.extra_env))
        try:
            self.probe_port = self.wait_ready()
        except BaseException:
            self.stop(check=False)
            raise
        return self

    def wait_ready(self):
        """Wait (bounded) until the first listen address answers 220, then
        QUIT that session and wait for the server to close it."""
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self.proc.poll() is not None:
                raise AssertionError("cutoverd exited with %s at start:\n%s"
                                     % (self.proc.returncode, self.stderr()))
            try:
                c = Raw(self.port, self.host, timeout=2.0)
                break
            except OSError:
                if time.monotonic() >= deadline:
                    raise AssertionError("cutoverd did not listen on %s:%d "
                                         "within %.0fs:\n%s" % (
                                             self.host, self.port,
                                             START_TIMEOUT, self.stderr()))
                time.sleep(0.05)
        with c:
            c.expect("220 ")
            c.send(b"QUIT\r\n")
            c.expect("221")
            c.expect_closed()
            return c.local_port

    def stderr(self):
        try:
            with open(self.stderr_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def check_alive(self):
        """Fail when cutoverd died or printed a sanitizer report."""
        found = sanitizer_report(self.stderr())
        if found:
            raise AssertionError("sanitizer report %s in cutoverd stderr:\n%s"
                                 % (found, self.stderr()))
        if self.proc.poll() is not None:
            raise AssertionError("cutoverd died (exit %s):\n%s"
                                 % (self.proc.returncode, self.stderr()))

    def signal(self, sig):
        self.proc.send_signal(sig)

    def terminate(self, timeout=STOP_TIMEOUT):
        """SIGTERM and wait; returns the exit status, None when it had to
        be killed."""
        self.expect_exit = True
        if self.proc.poll() is not None:
            return self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=timeout)
            return None

    def stop(self, check=True):
        """Stop cutoverd (SIGTERM, then SIGKILL after a bound) and fail on a
        sanitizer report, a death before the stop, or a broken log."""
        if self.stopped or self.proc is None:
            return
        self.stopped = True
        died_early = None if self.expect_exit else self.proc.poll()
        status = self.terminate()
        self.errfile.close()
        if not check:
            shutil.rmtree(self.dir, ignore_errors=True)
            return
        found = sanitizer_report(self.stderr())
        if found:
            raise AssertionError("sanitizer report %s in cutoverd stderr "
                                 "(kept in %s):\n%s"
                                 % (found, self.dir, self.stderr()))
        if status is None:
            raise AssertionError("cutoverd ignored SIGTERM for %.0fs "
                                 "and was killed" % STOP_TIMEOUT)
        if died_early is not None:
            raise AssertionError("cutoverd died before the stop (exit %s):\n%s"
                                 % (died_early, self.stderr()))
        parse_log(self.log_path, self.hostname, complete=True)
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, exc_type, exc, tb):
        self.stop(check=exc_type is None)
        return False

    def log_lines(self, path=None, complete=False):
        return parse_log(path or self.log_path, self.hostname, complete)

    def session_lines(self, port, ip="127.0.0.1", path=None):
        """All log lines of the latest session whose client was ip:port
        (a client port can be reused by a later connection)."""
        lines = self.log_lines(path)
        sids = [ln["sid"] for ln in lines
                if ln["ev"] in ("connect", "refused")
                and ln.get("ip") == ip and ln.get("port") == port]
        return [ln for ln in lines if sids and ln["sid"] == sids[-1]]

    def wait_event(self, port, ev, ip="127.0.0.1", timeout=5.0, count=1):
        """Wait until the session from ip:port has `count` lines of ev;
        returns all the session's lines."""
        def got():
            lines = self.session_lines(port, ip)
            return lines if sum(1 for ln in lines if ln["ev"] == ev) >= count \
                else None
        return wait_for(got, timeout, "%d %r line(s) for %s:%d"
                        % (count, ev, ip, port))

    def client(self, **kw):
        """A Raw client on the first listen address that has read the 220."""
        c = Raw(self.port, self.host, **kw)
        c.expect("220 ")
        return c


class CutoverdCase(unittest.TestCase):
    """One cutoverd for the whole test class, checked alive after each test.

    Subclasses set CONFIG (and TLS = True for a certificate), or override
    config() when the configuration depends on class attributes.
    """

    CONFIG = None
    TLS = False

    @classmethod
    def config(cls):
        return cls.CONFIG

    @classmethod
    def setUpClass(cls):
        cls.d = Cutoverd(cls.config(), tls=cls.TLS).start()

    @classmethod
    def tearDownClass(cls):
        cls.d.stop()

    def tearDown(self):
        self.d.check_alive()


def events(lines, ev):
    return [ln for ln in lines if ln["ev"] == ev]


class Reply:
    """One SMTP reply: code (int) and its lines (str, without CRLF)."""

    def __init__(self, lines):
        self.lines = lines
        self.code = int(lines[0][:3])

    @property
    def line(self):
        """The reply as one line "NNN text" (first line for multi-line)."""
        first = self.lines[0]
        return first[:3] + " " + first[4:] if len(first) > 3 else first

    @property
    def texts(self):
        return [ln[4:] for ln in self.lines]

    def __repr__(self):
        return "Reply(%r)" % self.lines


class Raw:
    """Raw SMTP client over a socket; every operation has a timeout."""

    def __init__(self, port, host="127.0.0.1", source=None,
                 timeout=IO_TIMEOUT):
        self.timeout = timeout
        src = (source, 0) if source else None
        self.sock = socket.create_connection((host, port), timeout=timeout,
                                             source_address=src)
        self.local_ip, self.local_port = self.sock.getsockname()[:2]
        self.buf = b""
        self.eof = False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def send(self, data):
        if isinstance(data, str):
            data = data.encode("utf-8")
        self.sock.settimeout(self.timeout)
        self.sock.sendall(data)

    def fill(self, deadline):
        """Read more bytes into buf; False on EOF, raises on timeout."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise socket.timeout("read timed out")
        self.sock.settimeout(remaining)
        try:
            chunk = self.sock.recv(65536)
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            self.eof = True
            return False
        self.buf += chunk
        return True

    def read_line(self, timeout=None):
        """One line without its CRLF (bytes); fails on EOF or timeout."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while b"\r\n" not in self.buf:
            try:
                more = self.fill(deadline)
            except (socket.timeout, TimeoutError):
                raise AssertionError("no reply within %.1fs (have %r)"
                                     % (timeout or self.timeout,
                                        self.buf)) from None
            if not more:
                raise AssertionError("connection closed while waiting for "
                                     "a reply (have %r)" % self.buf)
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def read_reply(self, timeout=None):
        """A whole reply, following "NNN-" continuation lines."""
        lines = []
        while True:
            raw = self.read_line(timeout)
            text = raw.decode("utf-8", "surrogateescape")
            if len(text) < 3 or not text[:3].isdigit() or \
                    (len(text) > 3 and text[3] not in " -"):
                raise AssertionError("malformed reply line %r" % raw)
            if lines and text[:3] != lines[0][:3]:
                raise AssertionError("reply code changed inside a "
                                     "multi-line reply: %r" % raw)
            lines.append(text)
            if len(text) == 3 or text[3] == " ":
                return Reply(lines)

    def expect(self, prefix, timeout=None):
        """Read a reply and assert its "NNN text" starts with prefix."""
        r = self.read_reply(timeout)
        if not r.line.startswith(prefix):
            raise AssertionError("want a reply starting %r, got %r"
                                 % (prefix, r.lines))
        return r

    def cmd(self, line, prefix, timeout=None):
        """Send one command line (CRLF added) and expect prefix."""
        self.send(line + ("\r\n" if isinstance(line, str) else b"\r\n"))
        return self.expect(prefix, timeout)

    def expect_silence(self, seconds=1.0):
        """Assert that nothing arrives (and no EOF) for `seconds`."""
        deadline = time.monotonic() + seconds
        if self.buf:
            raise AssertionError("unexpected data %r" % self.buf)
        try:
            more = self.fill(deadline)
        except (socket.timeout, TimeoutError):
            return
        if more:
            raise AssertionError("unexpected data %r" % self.buf)
        raise AssertionError("connection closed unexpectedly")

    def expect_closed(self, timeout=None):
        """Assert the server closes the connection with no further data."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while not self.eof:
            try:
                self.fill(deadline)
            except (socket.timeout, TimeoutError):
                raise AssertionError("connection still open after %.1fs"
                                     % (timeout or self.timeout)) from None
            except ssl.SSLError:
                self.eof = True
        if self.buf:
            raise AssertionError("unexpected data before close: %r"
                                 % self.buf)

    def starttls(self, context, server_hostname=None):
        """Wrap the socket in TLS (after the 220 to STARTTLS was read)."""
        if self.buf:
            raise AssertionError("server sent %r before the TLS handshake"
                                 % self.buf)
        self.sock.settimeout(self.timeout)
        self.sock = context.wrap_socket(self.sock,
                                        server_hostname=server_hostname)
        return self.sock


def client_tls_context():
    """A client context that accepts the tests' self-signed certificate."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


class CountingResult(unittest.TextTestResult):
    """TextTestResult that also counts plain successes."""

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        self.passed = 0

    def addSuccess(self, test):
        super().addSuccess(test)
        self.passed += 1


def main():
    """Run __main__'s tests; print "N passed, N failed"; exit 1 on failure."""
    runner = unittest.TextTestRunner(stream=sys.stderr, verbosity=2,
                                     resultclass=CountingResult)
    prog = unittest.main(module="__main__", testRunner=runner, exit=False)
    res = prog.result
    failed = len(res.failures) + len(res.errors) + \
        len(res.unexpectedSuccesses) + len(res.skipped)
    sys.stderr.flush()
    print("%d passed, %d failed" % (res.passed, failed), flush=True)
    sys.exit(1 if failed or res.testsRun == 0 else 0)
