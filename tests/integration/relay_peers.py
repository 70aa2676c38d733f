"""relay_peers.py - the peers cutoverd relays to in the issue 3 tests.

Purpose: give the relay tests real next hops on loopback that they control.

Public names:
  make_ca_and_cert(dir, names)  a test CA and a leaf certificate it signed
                                (openssl at test time) -> TLSFiles
  act(reply, sleep, drop, after) one scripted step of a ScriptedUpstream
  ScriptedUpstream(...)         an SMTP server in a thread (raw sockets):
                                scripted replies per step, drops, delays,
                                STARTTLS, and a record of everything seen
  unstuff(raw)                  dot-unstuff DATA bytes (RFC 5321 4.5.2)
  PrivatePostfix(top, ...)      a private Postfix instance (postfix -c DIR)
  PostfixTenant(domain, ...)    "the new tenant": a Postfix smtpd on
                                127.0.0.1:PORT delivering to maildirs
  PostfixSender(relayhost)      a sending Postfix relaying to cutoverd
  header_block(message)         a message's header fields and the rest
  split_delivered(got, sent)    the fields a relay path added in front of
                                the sent message (fails on any other change)

Invariants: everything listens on 127.0.0.1 only; every socket operation,
every wait and every subprocess is bounded in time; whatever is started is
stopped by its own PID (the upstream's threads are joined, a Postfix
master is found by its queue directory's master.pid).

Why raw sockets and not aiosmtpd (not a Debian package here, and it hides
the bytes): the tests must see the exact DATA bytes the upstream got,
script a drop in the middle of the data, and notice a second message
where the client sent one (SMTP smuggling).  With lenient_eod=True the
upstream ends the data on any CR/LF/NUL look-alike of CRLF.CRLF, as the
servers smuggling attacks target do, so anything non-CRLF that cutoverd
let through would show up as a second MAIL here.
"""

import json
import os
import pwd
import re
import shutil
import signal
import socket
import ssl
import tempfile
import threading
import time

import cutover_harness as h

IO_TIMEOUT = 10.0
STRICT_EOD = re.compile(rb"\r\n\.\r\n")
LENIENT_EOD = re.compile(rb"(?:\r\n|\n|\r)\x00?\.(?:\r\n|\n|\r)")


class TLSFiles:
    """Paths of a test CA and of a leaf certificate/key it signed."""

    def __init__(self, ca, cert, key):
        self.ca, self.cert, self.key = ca, cert, key


def openssl(args, what):
    r = h.run([h.need_tool("openssl")] + args, timeout=60)
    if r.returncode != 0:
        raise AssertionError("openssl %s failed: %s" % (what, r.stderr))


def make_ca_and_cert(directory, names=("upstream.test",), ips=("127.0.0.1",),
                     prefix="up"):
    """A CA (CA:TRUE) and a leaf for names/ips (subjectAltName) signed by
    it, made at test time; returns TLSFiles."""
    p = os.path.join(directory, prefix)
    ca, ca_key = p + "-ca.pem", p + "-ca.key"
    cert, key, csr = p + "-cert.pem", p + "-key.pem", p + ".csr"
    ext = p + ".ext"
    openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
             "-subj", "/CN=cutover test CA " + prefix, "-keyout", ca_key,
             "-out", ca, "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign"], "CA")
    openssl(["req", "-newkey", "rsa:2048", "-nodes", "-subj",
             "/CN=" + names[0], "-keyout", key, "-out", csr], "csr")
    san = ["DNS:" + n for n in names] + ["IP:" + i for i in ips]
    with open(ext, "w") as f:
        f.write("subjectAltName=%s\nbasicConstraints=CA:FALSE\n"
                "extendedKeyUsage=serverAuth\n" % ",".join(san))
    openssl(["x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key,
             "-CAcreateserial", "-days", "2", "-out", cert, "-extfile", ext],
            "sign")
    return TLSFiles(ca, cert, key)


class Act:
    """One scripted step: the reply (str; lines joined by "\\n"), a sleep
    before it, and a drop: "before" (close instead of replying), "after"
    (close right after the reply) or "middle" (DATA only: close after
    `after` octets of the message arrived)."""

    def __init__(self, reply=None, sleep=0.0, drop=None, after=0):
        """drop="middle" belongs to the "dot" step."""
        if drop not in (None, "before", "after", "middle"):
            raise ValueError("bad drop %r" % drop)
        self.reply, self.sleep, self.drop, self.after = \
            reply, sleep, drop, after


def act(reply=None, sleep=0.0, drop=None, after=0):
    return Act(reply, sleep, drop, after)


def unstuff(raw):
    """The message in DATA bytes raw (terminator excluded): a leading dot
    removed from every line that has one (RFC 5321 4.5.2)."""
    lines = raw.split(b"\r\n")
    return b"\r\n".join(ln[1:] if ln.startswith(b".") else ln
                        for ln in lines)


DEFAULTS = {
    "greeting": "220 {host} ESMTP scripted",
    "helo": "250 {host}",
    "starttls": "220 2.0.0 Ready to start TLS",
    "mail": "250 2.1.0 Ok",
    "rcpt": "250 2.1.5 Ok",
    "data": "354 End data with <CR><LF>.<CR><LF>",
    "dot": "250 2.0.0 Ok: queued as {queue_id}",
    "rset": "250 2.0.0 Ok",
    "noop": "250 2.0.0 Ok",
    "quit": "221 2.0.0 Bye",
    "unknown": "502 5.5.2 Error: command not recognized",
}


class Conn:
    """What one accepted connection saw."""

    def __init__(self, peer):
        self.peer = peer
        self.commands = []      # command lines (str, no CRLF), in order
        self.raw_data = []      # DATA bytes as received, terminator excluded
        self.partial_data = []  # DATA bytes before a scripted drop
        self.tls = None         # (version, cipher) once STARTTLS succeeded
        self.tls_error = None
        self.plain_after_starttls = b""   # pipelined plaintext (must be b"")
        self.closed_by = None   # "client", "script", "error", "stop"
        self.sock = None


class ScriptedUpstream:
    """An SMTP server on 127.0.0.1:<random> whose replies the test scripts.

    script: {step: str or Act}; steps: greeting, ehlo (an Act/str replaces
    the generated EHLO reply), helo, starttls, mail, rcpt, "rcpt <addr>"
    (one address, lower case, without <>), data, dot, rset, noop, quit.
    caps: EHLO keywords after the name; STARTTLS is added when tls is a
    TLSFiles.  The script may be changed between transactions
    (set_step()).  Every connection is served by its own thread.
    """

    def __init__(self, script=None, tls=None, hostname="upstream.test",
                 caps=("PIPELINING", "SIZE 104857600", "8BITMIME",
                       "ENHANCEDSTATUSCODES", "SMTPUTF8"),
                 lenient_eod=False):
        self.script = dict(script or {})
        self.tls = tls
        self.hostname = hostname
        self.caps = list(caps)
        self.lenient_eod = lenient_eod
        self.lock = threading.Lock()
        self.conns = []
        self.threads = []
        self.stopping = threading.Event()
        self.queue_ids = 0
        self.lsock = None
        self.port = None
        self.ctx = None
        if tls:
            self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.ctx.load_cert_chain(tls.cert, tls.key)

    # -- control -----------------------------------------------------------

    def start(self):
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(64)
        self.lsock.settimeout(0.2)
        self.port = self.lsock.getsockname()[1]
        t = threading.Thread(target=self.accept_loop, daemon=True)
        t.start()
        self.threads.append(t)
        return self

    def stop(self):
        self.stopping.set()
        if self.lsock:
            self.lsock.close()
        with self.lock:
            conns = list(self.conns)
        for c in conns:
            if c.sock is not None:
                try:
                    c.sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        for t in list(self.threads):
            t.join(timeout=5.0)
            if t.is_alive():
                raise AssertionError("ScriptedUpstream thread did not stop")

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False

    def set_step(self, step, spec):
        with self.lock:
            self.script[step] = spec

    @property
    def relay(self):
        """The relay setting that reaches this upstream without DNS."""
        return "[127.0.0.1]:%d" % self.port

    # -- what was seen -----------------------------------------------------

    def connections(self):
        with self.lock:
            return list(self.conns)

    def connection_count(self):
        with self.lock:
            return len(self.conns)

    def commands(self):
        """Every command line of every connection, in accept order."""
        return [c for conn in self.connections() for c in conn.commands]

    def verbs(self):
        return [c.split(" ", 1)[0].split(":", 1)[0].upper()
                for c in self.commands()]

    def raw_messages(self):
        return [m for conn in self.connections() for m in conn.raw_data]

    def messages(self):
        """Every message received (unstuffed), in order."""
        return [unstuff(m) for m in self.raw_messages()]

    def wait_commands(self, verb, count=1, timeout=10.0):
        return h.wait_for(lambda: self.verbs().count(verb) >= count,
                          timeout, "%d %s command(s) at the upstream"
                          % (count, verb))

    # -- serving -----------------------------------------------------------

    def accept_loop(self):
        while not self.stopping.is_set():
            try:
                sock, peer = self.lsock.accept()
            except (socket.timeout, TimeoutError):
                continue
            except OSError:
                return
            conn = Conn(peer)
            conn.sock = sock
            with self.lock:
                self.conns.append(conn)
            t = threading.Thread(target=self.serve, args=(conn,),
                                 daemon=True)
            t.start()
            with self.lock:
                self.threads.append(t)

    def spec(self, step):
        if step.startswith("rcpt "):
            with self.lock:
                s = self.script.get(step)
            if s is None:
                return self.spec("rcpt")
        with self.lock:
            s = self.script.get(step)
        if s is None:
            s = self.ehlo_reply() if step == "ehlo" else DEFAULTS[step]
        return s if isinstance(s, Act) else Act(s)

    def ehlo_reply(self):
        caps = list(self.caps)
        if self.tls:
            caps.append("STARTTLS")
        lines = [self.hostname] + caps
        return "\n".join("250%s%s" % ("-" if i < len(lines) - 1 else " ", ln)
                         for i, ln in enumerate(lines))

    def serve(self, conn):
        sess = _Session(self, conn)
        try:
            sess.run()
        except Exception as e:  # noqa: BLE001 -- recorded, never lost
            if conn.closed_by is None:
                conn.closed_by = "stop" if self.stopping.is_set() else \
                    "error: %s" % e
        finally:
            try:
                conn.sock.close()
            except OSError:
                pass


class _Closed(Exception):
    pass


class _Session:
    """One connection's SMTP dialogue, driven by the upstream's script."""

    def __init__(self, up, conn):
        self.up, self.conn = up, conn
        self.sock = conn.sock
        self.buf = b""
        self.sock.settimeout(IO_TIMEOUT)

    def recv(self):
        if self.up.stopping.is_set():
            raise _Closed("stopping")
        try:
            chunk = self.sock.recv(262144)
        except (socket.timeout, TimeoutError):
            raise _Closed("idle timeout") from None
        if not chunk:
            self.conn.closed_by = self.conn.closed_by or "client"
            raise _Closed("client closed")
        self.buf += chunk

    def line(self):
        while b"\r\n" not in self.buf:
            if len(self.buf) > 65536:
                raise _Closed("line too long")
            self.recv()
        ln, self.buf = self.buf.split(b"\r\n", 1)
        return ln.decode("utf-8", "surrogateescape")

    def reply(self, step, **fmt):
        """Run step's Act; returns False when the script dropped the
        connection."""
        a = self.up.spec(step)
        if a.sleep:
            self.up.stopping.wait(a.sleep)
        if a.drop == "before":
            self.conn.closed_by = "script"
            return False
        text = (a.reply or "").format(host=self.up.hostname, **fmt)
        self.sock.sendall(b"".join(ln.encode("utf-8") + b"\r\n"
                                   for ln in text.split("\n")))
        if a.drop == "after":
            self.conn.closed_by = "script"
            return False
        return True

    def run(self):
        if not self.reply("greeting"):
            return
        while True:
            cmd = self.line()
            self.conn.commands.append(cmd)
            if not self.dispatch(cmd):
                return

    def dispatch(self, cmd):
        verb = cmd.split(" ", 1)[0].split(":", 1)[0].upper()
        if verb in ("EHLO", "HELO"):
            return self.reply("ehlo" if verb == "EHLO" else "helo")
        if verb == "STARTTLS" and self.up.ctx is not None:
            return self.starttls()
        if verb == "MAIL":
            return self.reply("mail")
        if verb == "RCPT":
            m = re.search(r"<([^>]*)>", cmd)
            addr = (m.group(1) if m else "").lower()
            return self.reply("rcpt " + addr)
        if verb == "DATA":
            return self.data()
        if verb in ("RSET", "NOOP"):
            return self.reply(verb.lower())
        if verb == "QUIT":
            self.reply("quit")
            self.conn.closed_by = "quit"
            return False
        return self.reply("unknown")

    def starttls(self):
        ok = self.reply("starttls")
        if not ok or not self.up.spec("starttls").reply.startswith("220"):
            return ok
        self.conn.plain_after_starttls = self.buf
        self.buf = b""
        try:
            self.sock = self.up.ctx.wrap_socket(self.sock, server_side=True)
        except (ssl.SSLError, OSError) as e:
            self.conn.tls_error = str(e)
            self.conn.closed_by = "tls_error"
            return False
        self.conn.sock = self.sock
        self.conn.tls = (self.sock.version(), self.sock.cipher()[0])
        return True

    def data(self):
        a = self.up.spec("data")
        if not self.reply("data"):
            return False
        if not (a.reply or "").startswith("354"):
            return True
        raw = self.read_data()
        if raw is None:
            return False
        self.conn.raw_data.append(raw)
        with self.up.lock:
            self.up.queue_ids += 1
            qid = "Q%06d" % self.up.queue_ids
        return self.reply("dot", queue_id=qid)

    def read_data(self):
        """The DATA bytes up to the end mark (strict, or lenient); None when
        the script drops in the middle.  Bytes after the mark stay in buf
        and are read as commands (that is how smuggling would show)."""
        mid = self.up.spec("dot")
        dropat = mid.after if mid.drop == "middle" else None
        pat = LENIENT_EOD if self.up.lenient_eod else STRICT_EOD
        data = bytearray(b"\r\n")
        scan = 0
        data += self.buf
        self.buf = b""
        while True:
            m = pat.search(data, scan)
            if m:
                raw = bytes(data[2:m.start()])
                self.buf = bytes(data[m.end():])
                if m.start() >= 2:
                    return raw + (b"\r\n" if m.group(0).startswith(b"\r\n")
                                  else b"")
                return b""
            if dropat is not None and len(data) - 2 >= dropat:
                self.conn.partial_data.append(bytes(data[2:]))
                self.conn.closed_by = "script"
                return None
            scan = max(0, len(data) - 6)
            self.recv()
            data += self.buf
            self.buf = b""


def nobody_ids():
    pw = pwd.getpwnam("nobody")
    return pw.pw_uid, pw.pw_gid


TENANT_MAIN_CF = """\
compatibility_level = 3.6
queue_directory = {queue}
data_directory = {data}
mail_owner = postfix
setgid_group = postdrop
myhostname = {myhostname}
mydomain = {mydomain}
myorigin = $myhostname
mydestination =
inet_interfaces = loopback-only
inet_protocols = ipv4
maillog_file = {top}/maillog
maillog_file_prefixes = {top}
syslog_name = postfix-cutover-{role}
alias_maps =
alias_database =
local_recipient_maps =
smtputf8_enable = no
biff = no
smtp_tls_security_level = none
smtpd_tls_security_level = none
smtpd_banner = $myhostname ESMTP tenant
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
smtpd_recipient_restrictions =
smtpd_peername_lookup = no
message_size_limit = 52428800
disable_dns_lookups = yes
"""

MASTER_CF = """\
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def postfix_stop(postfix, conf, pid):
    """`postfix -c conf stop`, then make sure master pid is gone (bounded;
    SIGKILL and an error if it ignored the stop)."""
    try:
        h.run([postfix, "-c", conf, "stop"], timeout=30)
    finally:
        deadline = time.monotonic() + 10
        while pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if pid_alive(pid):
            os.kill(pid, signal.SIGKILL)
            raise AssertionError("Postfix master %d ignored postfix stop"
                                 % pid)


class PrivatePostfix:
    """A Postfix instance with its own config, queue and data directories
    under a temporary directory; never the system one (every command gets
    -c with our directory).  Runs as root with mail_owner postfix."""

    def __init__(self, role, main_cf_extra="", master_cf_extra="",
                 myhostname=None):
        self.postfix = h.need_tool("postfix")
        self.postqueue = h.need_tool("postqueue")
        self.sendmail = h.need_tool("sendmail")
        self.top = tempfile.mkdtemp(prefix="cutover-%s-" % role)
        os.chmod(self.top, 0o755)
        self.conf = os.path.join(self.top, "etc")
        self.queue = os.path.join(self.top, "queue")
        self.maillog = os.path.join(self.top, "maillog")
        os.mkdir(self.conf)
        os.mkdir(self.queue, 0o755)
        myhostname = myhostname or "%s.test.invalid" % role
        with open(os.path.join(self.conf, "main.cf"), "w") as f:
            f.write(TENANT_MAIN_CF.format(
                queue=self.queue, top=self.top, role=role,
                data=os.path.join(self.top, "data"), myhostname=myhostname,
                mydomain=myhostname.split(".", 1)[1]) + main_cf_extra)
        with open(os.path.join(self.conf, "master.cf"), "w") as f:
            f.write(MASTER_CF + master_cf_extra)
        self.master_pid = None

    def cmd(self, *args, timeout=60):
        r = h.run([self.postfix, "-c", self.conf] + list(args),
                  timeout=timeout)
        if r.returncode != 0:
            raise AssertionError("postfix %s failed (%d): %s%s%s"
                                 % (" ".join(args), r.returncode, r.stdout,
                                    r.stderr, self.log_text()))
        return r

    def start(self):
        try:
            self.cmd("start")       # runs postfix-script's checks too
            pidfile = os.path.join(self.queue, "pid", "master.pid")

            def master():
                try:
                    with open(pidfile) as f:
                        return int(f.read().strip() or 0)
                except (FileNotFoundError, ValueError):
                    return 0
            self.master_pid = h.wait_for(master, 10.0, "Postfix master.pid")
            h.wait_for(lambda: os.path.exists(
                os.path.join(self.queue, "public", "pickup")), 10.0,
                "Postfix pickup service")
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self):
        """postfix stop; make sure our master is gone (bounded)."""
        if self.master_pid is None:
            h.run([self.postfix, "-c", self.conf, "stop"], timeout=30)
            shutil.rmtree(self.top, ignore_errors=True)
            return
        pid, self.master_pid = self.master_pid, None
        postfix_stop(self.postfix, self.conf, pid)
        shutil.rmtree(self.top, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False

    def queue_entries(self):
        r = h.run([self.postqueue, "-c", self.conf, "-j"], timeout=30)
        if r.returncode != 0:
            raise AssertionError("postqueue -j failed: %s" % r.stderr)
        return [json.loads(ln) for ln in r.stdout.splitlines() if ln.strip()]

    def flush(self):
        r = h.run([self.postqueue, "-c", self.conf, "-f"], timeout=30)
        if r.returncode != 0:
            raise AssertionError("postqueue -f failed: %s" % r.stderr)

    def log_text(self):
        try:
            with open(self.maillog, encoding="utf-8", errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""


class PostfixTenant(PrivatePostfix):
    """"The new tenant": smtpd on 127.0.0.1:port, accepting mail for
    `domain` to the listed mailboxes (others: 550 5.1.1 user unknown) and
    delivering each to its own maildir with virtual(8) as nobody."""

    def __init__(self, domain="tenant.test", mailboxes=("user@tenant.test",),
                 port=None):
        self.port = port or h.free_port()
        self.domain = domain
        uid, gid = nobody_ids()
        super().__init__(
            "tenant", myhostname="mx." + domain,
            master_cf_extra="127.0.0.1:%d inet n - n - - smtpd\n" % self.port)
        self.base = os.path.join(self.top, "mail")
        os.mkdir(self.base)
        os.chown(self.base, uid, gid)
        mapfile = os.path.join(self.conf, "vmailbox")
        with open(mapfile, "w") as f:
            for mb in mailboxes:
                f.write("%s %s/\n" % (mb, mb))
        with open(os.path.join(self.conf, "main.cf"), "a") as f:
            f.write("virtual_mailbox_domains = %s\n"
                    "virtual_mailbox_base = %s\n"
                    "virtual_mailbox_maps = texthash:%s\n"
                    "virtual_uid_maps = static:%d\n"
                    "virtual_gid_maps = static:%d\n"
                    "virtual_minimum_uid = %d\n"
                    "virtual_mailbox_limit = 0\n"
                    "local_header_rewrite_clients =\n"
                    % (domain, self.base, mapfile, uid, gid, min(uid, 100)))

    def start(self):
        super().start()
        h.wait_for(lambda: self.answers(), 10.0,
                   "the tenant's smtpd on 127.0.0.1:%d" % self.port)
        return self

    def answers(self):
        try:
            with socket.create_connection(("127.0.0.1", self.port),
                                          timeout=2.0):
                return True
        except OSError:
            return False

    def delivered(self, mailbox):
        """The messages (bytes, as stored: LF line ends) in mailbox's
        maildir new/, oldest first."""
        d = os.path.join(self.base, mailbox, "new")
        try:
            names = sorted(os.listdir(d),
                           key=lambda n: os.stat(os.path.join(d, n)).st_mtime)
        except FileNotFoundError:
            return []
        out = []
        for n in names:
            with open(os.path.join(d, n), "rb") as f:
                out.append(f.read())
        return out

    def wait_delivery(self, mailbox, count=1, timeout=30.0):
        """The messages of mailbox once it has `count` (bounded wait)."""
        try:
            return h.wait_for(
                lambda: (lambda m: m if len(m) >= count else None)(
                    self.delivered(mailbox)),
                timeout, "%d message(s) delivered to %s" % (count, mailbox),
                interval=0.2)
        except AssertionError as e:
            raise AssertionError("%s; tenant maillog:\n%s" % (
                e, "\n".join(self.log_text().splitlines()[-20:]))) from None


TENANT_ADDED = ("Return-Path", "X-Original-To", "Delivered-To", "Received")


def split_delivered(delivered, original):
    """delivered (as stored) = header fields the relay path added +
    original, both with LF line ends.  Returns the added fields (name,
    bytes); fails when anything else differs or a field other than
    Return-Path/X-Original-To/Delivered-To/Received was added."""
    if not delivered.endswith(original):
        raise AssertionError("delivered message does not end with the "
                             "original:\n%r\n---\n%r" % (delivered[:2000],
                                                          original[:2000]))
    added, rest = header_block(delivered[:len(delivered) - len(original)]
                               + b"\n")
    if rest != b"\n":
        raise AssertionError("not only header fields were added: %r"
                             % delivered[:2000])
    bad = [n for n, _ in added if n not in TENANT_ADDED]
    if bad:
        raise AssertionError("unexpected added fields %s" % bad)
    return added


class PostfixSender(PrivatePostfix):
    """A sending MTA: everything relayed to relayhost ("[127.0.0.1]:PORT"),
    retried only when the test says so (postqueue -f)."""

    def __init__(self, relayhost):
        super().__init__("sender", main_cf_extra=(
            "relayhost = %s\n"
            "smtp_connect_timeout = 5s\n"
            "smtp_helo_timeout = 10s\n"
            "queue_run_delay = 300s\n"
            "minimal_backoff_time = 300s\n"
            "maximal_backoff_time = 600s\n" % relayhost))

    def submit(self, sender, rcpt, message):
        """sendmail -f sender rcpt < message (bytes or str)."""
        if isinstance(message, bytes):
            message = message.decode("utf-8")
        r = h.run([self.sendmail, "-C", self.conf, "-f", sender, "-i", rcpt],
                  input=message, timeout=30)
        if r.returncode != 0:
            raise AssertionError("sendmail failed: %s" % r.stderr)


def header_block(message):
    """(headers, rest) of a message with CRLF or LF line ends: headers as
    a list of (name, whole field bytes incl. folded lines and ends)."""
    first = message.find(b"\n")
    nl = b"\r\n" if first > 0 and message[first - 1:first] == b"\r" \
        else b"\n"
    fields = []
    pos = 0
    while pos < len(message):
        end = message.find(nl, pos)
        if end < 0:
            break
        line = message[pos:end + len(nl)]
        if line == nl:
            return fields, message[pos:]
        if line[:1] in (b" ", b"\t") and fields:
            name, val = fields[-1]
            fields[-1] = (name, val + line)
        else:
            fields.append((line.split(b":", 1)[0].decode("latin-1"), line))
        pos = end + len(nl)
    return fields, message[pos:]
