"""loopback_dns.py - a real DNS server on loopback for the tests.

Purpose: every test that needs DNS (SPF, DKIM keys, DMARC records, MX for the
relay) points its resolver at a Debian unbound started here on 127.0.0.1 and
a free port, answering only from the records the test gives.  No live DNS is
ever queried: the root is a static local zone, so anything not given is
NXDOMAIN (no such name) or NODATA (name exists, type does not).

Public names:
  LoopbackDNS(records, timeouts)  context manager; .start() .stop() .port
                                  .resolver ("127.0.0.1@PORT" for our
                                  milter/dns.h) .address (("127.0.0.1", port))
  txt_rdata(*strings)             TXT presentation text, each string quoted
                                  and escaped, strings over 255 bytes split
  query(port, name, qtype)        a tiny DNS client over UDP: -> Answer
                                  (rcode, list of (type, rdata) decoded)
  RCODE_NOERROR / SERVFAIL / NXDOMAIN

records: (name, type, rdata) triples.  rdata is zone-file presentation text
("10 mx.example.", "192.0.2.1"); for TXT it may also be a str/bytes (one
string, quoted and escaped for you) or a list/tuple of them (several
strings).  A presentation text for TXT must start with a double quote.
timeouts: (name, type or None) pairs: queries for that name (and its
subdomains without data of their own) that local data does not answer get a
quick SERVFAIL, as a timing-out authority would cause.  With a type, the
name's other types keep their local data; unbound cannot make only one type
fail, so types without local data on that name fail too (the SPF suite's
TIMEOUT means exactly this).

How: each timeout name is a "typetransparent" local zone forwarded to a
small responder thread on 127.0.0.1 that answers SERVFAIL to everything, so
unbound answers SERVFAIL at once (test_loopback_dns.py checks < 1 s; a
closed port instead made unbound retry for over 20 s).  Invariants: nothing here can hang (every wait has a
deadline); stop() kills by PID only the unbound this object started.
Standard library only.
"""

import os
import random
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time

UNBOUND = "/usr/sbin/unbound"
START_TIMEOUT = 10.0
STOP_TIMEOUT = 5.0
RCODE_NOERROR = 0
RCODE_SERVFAIL = 2
RCODE_NXDOMAIN = 3
TYPES = {"A": 1, "NS": 2, "CNAME": 5, "SOA": 6, "PTR": 12, "MX": 15,
         "TXT": 16, "AAAA": 28, "SPF": 99}
TYPE_NAMES = {v: k for k, v in TYPES.items()}
# Bytes written as themselves inside a quoted TXT string; everything else
# (quotes, backslash, ' which ends unbound's config string, ; and # which
# start comments, control and 8-bit bytes) becomes \DDD.
PLAIN = set(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
            b"0123456789 !$%&()*+,-./:<=>?@[]^_`{|}~")


def _escape_string(data):
    if isinstance(data, str):
        data = data.encode("utf-8")
    return '"' + "".join(chr(b) if b in PLAIN else "\\%03d" % b
                         for b in data) + '"'


def txt_rdata(*strings):
    """TXT presentation text for the given strings (str or bytes); a string
    longer than 255 bytes is split into 255-byte character-strings."""
    parts = []
    for s in strings:
        raw = s.encode("utf-8") if isinstance(s, str) else bytes(s)
        chunks = [raw[i:i + 255] for i in range(0, len(raw), 255)] or [b""]
        parts.extend(_escape_string(c) for c in chunks)
    return " ".join(parts)


def _presentation(rtype, rdata):
    if rtype.upper() in ("TXT", "SPF"):
        if isinstance(rdata, (list, tuple)):
            return txt_rdata(*rdata)
        if isinstance(rdata, bytes) or not rdata.startswith('"'):
            return txt_rdata(rdata)
    if not isinstance(rdata, str):
        raise ValueError("rdata for %s must be text: %r" % (rtype, rdata))
    if "\n" in rdata or "\r" in rdata:
        raise ValueError("rdata holds a line break: %r" % rdata)
    # \039 is the same byte as ' in presentation, quoted or not.
    return rdata.replace("'", "\\039")


def _fqdn(name):
    """Presentation form with the root dot; a space or tab in a label (the
    SPF suite has one) is written \\DDD, which unbound's parser reads as
    that byte.  Quotes and line breaks cannot be written: ValueError."""
    name = name.rstrip(".")
    if not name or "'" in name or '"' in name or "\n" in name or \
            "\r" in name:
        raise ValueError("bad DNS name for the loopback server: %r" % name)
    return "".join("\\%03d" % ord(c) if c in " \t" else c
                   for c in name) + "."


class _ServfailServer:
    """A UDP responder on 127.0.0.1 answering SERVFAIL to every query: the
    "broken authority" the timeout names are forwarded to.  (A closed port
    was measured first: unbound then retries for over 20 s.)"""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.running = True
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while self.running:
            try:
                msg, peer = self.sock.recvfrom(65535)
            except (socket.timeout, OSError):
                continue
            if len(msg) < 12:
                continue
            # Same id and question, QR + RD/RA, rcode 2, no records.
            flags = 0x8000 | (struct.unpack("!H", msg[2:4])[0] & 0x0100) \
                | 0x0080 | RCODE_SERVFAIL
            qd_end = msg[12:].find(b"\0")
            question = msg[12:12 + qd_end + 5] if qd_end >= 0 else b""
            reply = (msg[:2] + struct.pack("!HHHHH", flags,
                                           1 if question else 0, 0, 0, 0)
                     + question)
            try:
                self.sock.sendto(reply, peer)
            except OSError:
                pass

    def stop(self):
        self.running = False
        self.thread.join(timeout=STOP_TIMEOUT)
        self.sock.close()


def _free_port():
    """A port free for both UDP and TCP on 127.0.0.1 right now."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
            t.bind(("127.0.0.1", 0))
            port = t.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                try:
                    u.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
    raise AssertionError("no free port for the loopback DNS server")


class Answer:
    """One DNS response: rcode and the answer section as (type, value)."""

    def __init__(self, rcode, answers):
        self.rcode = rcode
        self.answers = answers

    def of_type(self, qtype):
        t = TYPES[qtype] if isinstance(qtype, str) else qtype
        return [v for (rt, v) in self.answers if rt == t]

    def __repr__(self):
        return "Answer(rcode=%d, %r)" % (self.rcode, self.answers)


def _encode_name(name):
    out = b""
    for label in name.rstrip(".").split("."):
        if label:
            raw = label.encode("ascii")
            out += bytes([len(raw)]) + raw
    return out + b"\0"


def _read_name(msg, pos):
    labels, jumps, end = [], 0, None
    while True:
        if pos >= len(msg):
            raise ValueError("name runs past the message")
        n = msg[pos]
        if n & 0xC0 == 0xC0:
            if pos + 1 >= len(msg) or jumps > 20:
                raise ValueError("bad compression pointer")
            if end is None:
                end = pos + 2
            pos = ((n & 0x3F) << 8) | msg[pos + 1]
            jumps += 1
            continue
        if n == 0:
            return ".".join(labels), (end if end is not None else pos + 1)
        labels.append(msg[pos + 1:pos + 1 + n].decode("latin-1"))
        pos += 1 + n


def _decode_rdata(msg, rtype, start, rdlen):
    rd = msg[start:start + rdlen]
    if rtype == 1 and rdlen == 4:
        return socket.inet_ntop(socket.AF_INET, rd)
    if rtype == 28 and rdlen == 16:
        return socket.inet_ntop(socket.AF_INET6, rd)
    if rtype == 15:
        return (struct.unpack("!H", rd[:2])[0], _read_name(msg, start + 2)[0])
    if rtype in (2, 5, 12):
        return _read_name(msg, start)[0]
    if rtype in (16, 99):
        strings, i = [], 0
        while i < rdlen:
            n = rd[i]
            strings.append(rd[i + 1:i + 1 + n])
            i += 1 + n
        return strings
    return rd


def _parse_response(msg, qid):
    if len(msg) < 12:
        raise ValueError("short DNS response")
    rid, flags, qd, an = struct.unpack("!HHHH", msg[:8])
    if rid != qid:
        raise ValueError("response id mismatch")
    pos = 12
    for _ in range(qd):
        pos = _read_name(msg, pos)[1] + 4
    answers = []
    for _ in range(an):
        pos = _read_name(msg, pos)[1]
        rtype, _cls, _ttl, rdlen = struct.unpack("!HHIH", msg[pos:pos + 10])
        pos += 10
        answers.append((rtype, _decode_rdata(msg, rtype, pos, rdlen)))
        pos += rdlen
    return Answer(flags & 0xF, answers)


def query(port, name, qtype, timeout=2.0, host="127.0.0.1"):
    """Ask host:port one question over UDP (recursion desired); -> Answer.
    Raises socket.timeout when no answer comes within timeout seconds."""
    t = TYPES[qtype] if isinstance(qtype, str) else qtype
    qid = random.randrange(0, 65536)
    # One OPT record (EDNS0, 4096-byte UDP payload) so long TXT answers fit.
    pkt = (struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 1)
           + _encode_name(name) + struct.pack("!HH", t, 1)
           + b"\0" + struct.pack("!HHIH", 41, 4096, 0, 0))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(pkt, (host, port))
        deadline = time.monotonic() + timeout
        while True:
            s.settimeout(max(0.01, deadline - time.monotonic()))
            msg, _ = s.recvfrom(65535)
            try:
                return _parse_response(msg, qid)
            except ValueError:
                if time.monotonic() >= deadline:
                    raise


class LoopbackDNS:
    """unbound on 127.0.0.1:port answering from the given records only."""

    def __init__(self, records=(), timeouts=(), ttl=1):
        self.records = list(records)
        self.timeouts = list(timeouts)
        self.ttl = ttl
        # Rendered now so a bad record fails the caller, not unbound.
        self.zone_names = sorted({_fqdn(n) for n, _t in self.timeouts})
        self.data_lines = ["  local-data: '%s %d IN %s %s'"
                           % (_fqdn(name), ttl, rtype.upper(),
                              _presentation(rtype, rdata))
                           for name, rtype, rdata in self.records]
        self.port = None
        self.resolver = None
        self.address = None
        self.dir = None
        self.proc = None
        self.servfail = None

    def plain_below_timeouts(self):
        names = sorted({_fqdn(n) for n, _t, _r in self.records})
        return [n for n in names if n not in self.zone_names and
                any(n.lower().endswith("." + z.lower())
                    for z in self.zone_names)]

    def config_text(self, port, servfail_port):
        lines = [
            "server:",
            "  interface: 127.0.0.1", "  port: %d" % port,
            "  do-daemonize: no", '  username: ""', '  chroot: ""',
            '  directory: "%s"' % self.dir,
            '  pidfile: "%s"' % os.path.join(self.dir, "unbound.pid"),
            '  logfile: "%s"' % os.path.join(self.dir, "unbound.log"),
            "  use-syslog: no", "  verbosity: 1",
            '  module-config: "iterator"',
            "  do-not-query-localhost: no", "  qname-minimisation: no",
            "  do-ip6: no", "  num-threads: 1",
            "  access-control: 127.0.0.0/8 allow",
            "  cache-max-ttl: 1", "  cache-max-negative-ttl: 1",
            "  infra-host-ttl: 60", "  outgoing-num-tcp: 4",
            "  serve-expired: no", "  prefetch: no", "  minimal-responses: yes",
            "  udp-connect: yes", "  harden-referral-path: no",
            '  local-zone: "." static',
        ]
        for name in self.zone_names:
            lines.append('  local-zone: "%s" typetransparent' % name)
        # A name with data below a timeout name answers normally (NODATA
        # for its other types), not with the timeout of its parent.
        for name in self.plain_below_timeouts():
            lines.append('  local-zone: "%s" static' % name)
        lines += self.data_lines
        for name in self.zone_names:
            lines += ["forward-zone:", '  name: "%s"' % name,
                      "  forward-addr: 127.0.0.1@%d" % servfail_port,
                      "  forward-first: no"]
        lines += ["remote-control:", "  control-enable: no"]
        return "\n".join(lines) + "\n"

    def start(self):
        if not os.access(UNBOUND, os.X_OK):
            raise AssertionError("required tool %s is not installed" % UNBOUND)
        self.dir = tempfile.mkdtemp(prefix="cutover-dns-")
        port = _free_port()
        conf = os.path.join(self.dir, "unbound.conf")
        if self.timeouts:
            self.servfail = _ServfailServer()
        with open(conf, "w", encoding="utf-8") as f:
            f.write(self.config_text(port, self.servfail.port
                                     if self.servfail else 0))
        self.proc = subprocess.Popen([UNBOUND, "-d", "-c", conf],
                                     stdout=subprocess.DEVNULL,
                                     stderr=open(os.path.join(self.dir,
                                                 "stderr"), "wb"))
        self.port = port
        self._wait_ready(conf)
        self.resolver = "127.0.0.1@%d" % port
        self.address = ("127.0.0.1", port)
        return self

    def _wait_ready(self, conf):
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self.proc.poll() is not None:
                err = self.log_text()
                self._cleanup()
                raise AssertionError("unbound exited (%s) at start:\n%s\n%s"
                                     % (self.proc.returncode, err,
                                        open(conf).read()))
            try:
                query(self.port, "ready.probe.invalid", "A", timeout=0.05)
                return
            except (OSError, ValueError):
                pass
            if time.monotonic() >= deadline:
                self.stop()
                raise AssertionError("unbound did not answer within %.0fs"
                                     % START_TIMEOUT)
            time.sleep(0.02)

    def log_text(self):
        out = ""
        for name in ("stderr", "unbound.log"):
            p = os.path.join(self.dir or "", name)
            if self.dir and os.path.exists(p):
                with open(p, errors="replace") as f:
                    out += f.read()
        return out

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=STOP_TIMEOUT)
        self._cleanup()

    def _cleanup(self):
        if self.servfail is not None:
            self.servfail.stop()
            self.servfail = None
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False
