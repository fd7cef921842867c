"""The probes of the wire bench (see wire_bench.py).

A probe is a function of one target endpoint (Linux or stackd, IPv4 or IPv6)
that runs a short crafted conversation and returns a normalised record: a
dict that must be equal for both targets. Keys starting with "_" are
information (observed raw values) and are not compared. Each probe also
names what Linux is known to return (linux=...), so a bench that stopped
talking to a real Linux fails instead of passing.

Numbers in records are relative: "seq" to the target's ISN, "ack" to the
prober's. Replies are summarised as "FLAGS seq=N ack=N [sack=L-R]" with PSH
left out (when a peer sets it is not behaviour a peer relies on). Times are
classes, wide enough for a loaded 2-core machine; every wait is bounded.
"""

import itertools
import json
import random
import subprocess
import time

from scapy.all import (ICMP, IP, TCP, UDP, ICMPv6DestUnreach, ICMPv6EchoReply,
                       ICMPv6EchoRequest, ICMPv6PacketTooBig, IPOption_LSRR,
                       IPOption_RR, IPv6, IPv6ExtHdrFragment, Raw, conf,
                       fragment)
from scapy.layers.l2 import Ether

import wire_bench as wb

conf.verb = 0

BED = None
CAP = None
PROBES = []
_ports = itertools.count(40000)
_macs = {}

# How long "no answer" waits, and how long the application may take to show
# a barrier's bytes.
QUIET = 0.4
APP_WAIT = 2.0


class ProbeError(Exception):
    pass


def init(bed, cap):
    global BED, CAP
    BED, CAP = bed, cap
    out = subprocess.run(["ip", "-j", "-n", wb.NS_P, "link", "show"],
                         capture_output=True, text=True, check=True,
                         timeout=15, env={"PATH": wb.PROGRAM_PATH}).stdout
    for link in json.loads(out):
        _macs[link["ifname"]] = link.get("address")


class Probe:
    def __init__(self, name, fn, families, linux):
        self.name, self.fn, self.families, self.linux = name, fn, families, linux

    def run(self, target, fam):
        return self.fn(Target(target, fam))

    def linux_expect(self, fam):
        return self.linux(fam) if callable(self.linux) else dict(self.linux)


def probe(name, linux, families=(4, 6)):
    def deco(fn):
        PROBES.append(Probe(name, fn, families, linux))
        return fn
    return deco


def tclass(dt, bounds=(0.05, 0.15, 0.5, 1.5, 2.5)):
    """A time as a class: "<50ms", "50ms-150ms", ..., ">2.5s"; "none"."""
    if dt is None:
        return "none"
    def fmt(b):
        return "%dms" % round(b * 1000) if b < 1 else "%gs" % b
    prev = None
    for b in bounds:
        if dt < b:
            return "<" + fmt(b) if prev is None else "%s-%s" % (fmt(prev), fmt(b))
        prev = b
    return ">" + fmt(bounds[-1])


class Target:
    def __init__(self, name, fam):
        self.name, self.fam = name, fam
        self.src, self.dst = wb.ADDRS[name][fam]
        self.iface = wb.VETH_P if name == "linux" else wb.TAP
        self.dst_mac = wb.LINUX_MAC if name == "linux" else wb.STACK_MAC
        self.mss = 1460 if fam == 4 else 1440

    def ip(self, **kw):
        if self.fam == 4:
            return IP(src=self.src, dst=self.dst, **kw)
        return IPv6(src=self.src, dst=self.dst, **kw)

    def send(self, l3):
        return CAP.send(self.iface, Ether(src=_macs[self.iface],
                                          dst=self.dst_mac) / l3)

    def ip_of(self, p):
        layer = IP if self.fam == 4 else IPv6
        if layer not in p or p[layer].src != self.dst or p[layer].dst != self.src:
            return None
        return p[layer]

    def ttl(self, p):
        return p[IP].ttl if self.fam == 4 else p[IPv6].hlim


class Conn:
    """One TCP conversation of the prober's, from a fresh port."""

    def __init__(self, t, dport=wb.READER_PORT, sport=None):
        self.t, self.dport = t, dport
        self.sport = sport or next(_ports)
        self.iss = random.getrandbits(32)
        self.snd_nxt = self.iss
        self.irs = self.rcv_nxt = None

    def syn_options(self, ts=False, ws=7, sack=True):
        opts = [("MSS", self.t.mss)]
        if sack:
            opts.append(("SAckOK", b""))
        if ts:
            opts.append(("Timestamp", (random.getrandbits(31), 0)))
        if ws is not None:
            opts += [("NOP", None), ("WScale", ws)]
        return opts

    def seg(self, flags, seq=None, ack=None, data=b"", options=None,
            window=65535, urgptr=0, chksum=None, ip=None):
        if ack is None:
            ack = self.rcv_nxt if ("A" in flags and self.rcv_nxt is not None) else 0
        tcp = TCP(sport=self.sport, dport=self.dport, flags=flags,
                  seq=(self.snd_nxt if seq is None else seq) % 2**32,
                  ack=ack % 2**32, window=window, options=options or [],
                  urgptr=urgptr)
        if chksum is not None:
            tcp.chksum = chksum
        pkt = (ip or self.t.ip()) / tcp
        if data:
            pkt = pkt / Raw(data)
        return self.t.send(pkt)

    def mine(self, p):
        return (self.t.ip_of(p) is not None and TCP in p
                and p[TCP].sport == self.dport and p[TCP].dport == self.sport)

    def replies(self, since, timeout, count=1, pred=None):
        return CAP.wait(lambda p: self.mine(p) and (pred is None or pred(p)),
                        timeout, since, count)

    def syn(self, options=None, flags="S"):
        """Sends a SYN; returns (send time, first reply or None, its time)."""
        m = CAP.mark()
        t0 = self.seg(flags, options=options if options is not None
                      else self.syn_options())
        got = self.replies(m, 1.5)
        if not got:
            return t0, None, None
        ts, p = got[0]
        if "S" in str(p[TCP].flags) and "A" in str(p[TCP].flags):
            self.irs = p[TCP].seq
            self.rcv_nxt = (self.irs + 1) % 2**32
        return t0, p, ts

    def open(self, options=None, window=65535, syn_window=None, ack_delay=0):
        self.snd_nxt = self.iss
        m = CAP.mark()
        self.seg("S", options=options if options is not None
                 else self.syn_options(),
                 window=window if syn_window is None else syn_window)
        got = self.replies(m, 1.5, pred=lambda p: str(p[TCP].flags) == "SA")
        if not got:
            raise ProbeError("%s: no SYN-ACK to port %d" % (self.t.name, self.dport))
        ts, p = got[0]
        self.irs = p[TCP].seq
        self.rcv_nxt = (self.irs + 1) % 2**32
        self.snd_nxt = (self.iss + 1) % 2**32
        self.synack = p
        if ack_delay:
            time.sleep(ack_delay)
        self.seg("A", window=window)
        return p

    def send_data(self, data, flags="PA"):
        t = self.seg(flags, data=data)
        self.snd_nxt = (self.snd_nxt + len(data)) % 2**32
        return t

    def reset(self):
        self.seg("R", seq=self.snd_nxt, ack=0)

    def rel_seq(self, p):
        return (p[TCP].seq - self.irs) % 2**32 if self.irs is not None else p[TCP].seq

    def rel_ack(self, p):
        return (p[TCP].ack - self.iss) % 2**32

    def summary(self, p):
        tcp = p[TCP]
        flags = str(tcp.flags).replace("P", "")
        s = "%s seq=%d" % (flags, self.rel_seq(p))
        if "A" in flags:
            s += " ack=%d" % self.rel_ack(p)
        for kind, value in tcp.options:
            if kind == "SAck":
                blocks = [(value[i] - self.iss) % 2**32 for i in range(len(value))]
                s += " sack=" + ",".join("%d-%d" % (blocks[i], blocks[i + 1])
                                         for i in range(0, len(blocks) - 1, 2))
        return s

    def first_reply(self, since, timeout=QUIET):
        got = self.replies(since, timeout)
        return self.summary(got[0][1]) if got else "none"

    def adopt(self, since):
        """If the target acknowledged more than the prober sent (it took
        an injected segment), continue from there."""
        for _, p in self.replies(since, 0, count=10**6):
            if "A" in str(p[TCP].flags):
                ahead = (p[TCP].ack - self.snd_nxt) % 2**32
                if 0 < ahead < 2**30:
                    self.snd_nxt = p[TCP].ack

    def barrier(self, token=b"OK"):
        """Sends `token` in sequence and waits until the application read it
        (or APP_WAIT passed). Returns what the application read and how its
        connection ended."""
        self.send_data(token)
        return app_read(self.t, self.sport, until=token)


def app_read(t, sport, until=None, end=False, timeout=APP_WAIT):
    """(bytes the application read from the connection from `sport`, how it
    ended: "eof", "error:ECONNRESET", "close" or None), waiting until it read
    `until` or (with `end`) the connection ended, at most `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        data, how = b"", None
        for e in BED.app_events(t.name):
            if e.get("rp") != sport or e.get("lp") == wb.UDP_PORT:
                continue
            if e["ev"] == "data":
                data += bytes.fromhex(e["hex"])
            elif e["ev"] in ("eof", "close"):
                how = e["ev"]
            elif e["ev"] == "error":
                how = "error:" + e["errno"]
        done = (until is not None and until in data) or (end and how)
        if done or time.monotonic() > deadline:
            return data, how
        CAP.pump(0.02)


def compact(data):
    """b"OK" -> "OK", b"A" * 100 -> "{A*100}": long reads stay readable."""
    out = []
    for k, g in itertools.groupby(data):
        n = len(list(g))
        c = chr(k) if 32 < k < 127 and chr(k) not in "{}" else "\\x%02x" % k
        out.append(c * n if n < 8 else "{%s*%d}" % (c, n))
    return "".join(out)


def established(t, dport=wb.READER_PORT, options=None):
    c = Conn(t, dport)
    c.open(options=options)
    # The application has the connection once it logged the accept.
    deadline = time.monotonic() + APP_WAIT
    while time.monotonic() < deadline:
        if any(e.get("ev") == "accept" and e.get("rp") == c.sport
               for e in BED.app_events(t.name)):
            break
        CAP.pump(0.01)
    return c


def option_names(p):
    return sorted({k for k, _ in p[TCP].options if k not in ("NOP", "EOL")})


# ---------------------------------------------------------------- handshake

@probe("handshake", linux=lambda fam: {
    "reply": "SA seq=0 ack=1", "options": ["MSS", "SAckOK", "Timestamp", "WScale"],
    "mss": 1460 if fam == 4 else 1440, "window_open": True, "answer": "<200ms",
    "tsecr_echoed": True})
def handshake(t):
    """SYN with MSS, SACK-permitted, timestamps and window scale: the
    SYN-ACK's flags, options, MSS, window and how fast it comes."""
    c = Conn(t)
    opts = c.syn_options(ts=True)
    t0, p, ts = c.syn(options=opts)
    if p is None:
        return {"reply": "none"}
    c.reset()
    tsecr = [v[1] for k, v in p[TCP].options if k == "Timestamp"]
    return {
        "reply": c.summary(p),
        "options": option_names(p),
        "mss": dict(p[TCP].options).get("MSS"),
        "window_open": p[TCP].window > 0,
        "answer": tclass(ts - t0, (0.2, 1.0)),
        "tsecr_echoed": bool(tsecr) and tsecr[0] == opts[2][1][0],
    }


@probe("ecn_syn", linux={"reply": "SAE seq=0 ack=1"})
def ecn_syn(t):
    """SYN with ECE and CWR (RFC 3168 ECN setup): Linux (tcp_ecn=2)
    answers with ECE in the SYN-ACK."""
    c = Conn(t)
    _, p, _ = c.syn(flags="SEC")
    if p is not None:
        c.reset()
    return {"reply": c.summary(p) if p is not None else "none"}


def _ecn_open(c):
    """The handshake with an ECN-setup SYN (ECE and CWR)."""
    m = CAP.mark()
    c.seg("SEC", options=c.syn_options())
    got = c.replies(m, 1.5, pred=lambda p: "S" in str(p[TCP].flags))
    if not got:
        raise ProbeError("%s: no SYN-ACK to port %d" % (c.t.name, c.dport))
    c.irs = got[0][1][TCP].seq
    c.rcv_nxt = (c.irs + 1) % 2**32
    c.snd_nxt = (c.iss + 1) % 2**32
    c.seg("A")


def _ecn_bits(p):
    return (p[IP].tos if IP in p else p[IPv6].tc) & 3


@probe("ecn_data", linux={"data_ect": 2, "ce_echoed": True, "echo_after_cwr": False})
def ecn_data(t):
    """After an ECN handshake: the target's new data is ECT(0); a CE-marked
    segment is acknowledged with ECE, and the echo stops at the prober's CWR
    (RFC 3168 6.1)."""
    w = Conn(t, dport=wb.WRITER_PORT)
    _ecn_open(w)
    m = CAP.mark()
    got = w.replies(m, 1.0, pred=lambda p: len(p[TCP].payload) > 0)
    w.snd_nxt = w.iss + 1
    w.reset()
    out = {"data_ect": _ecn_bits(got[0][1]) if got else "no data"}
    c = Conn(t)
    _ecn_open(c)
    ce = {"tos": 3} if t.fam == 4 else {"tc": 3}
    m = CAP.mark()
    c.seg("PA", data=b"ce", ip=t.ip(**ce))
    c.snd_nxt = (c.snd_nxt + 2) % 2**32
    got = c.replies(m, 0.5, pred=lambda p: p[TCP].ack == c.snd_nxt)
    out["ce_echoed"] = "E" in str(got[0][1][TCP].flags) if got else "no ACK"
    m = CAP.mark()
    c.send_data(b"cwr", flags="PAC")
    got = c.replies(m, 0.5, pred=lambda p: p[TCP].ack == c.snd_nxt)
    out["echo_after_cwr"] = "E" in str(got[0][1][TCP].flags) if got else "no ACK"
    c.reset()
    return out


@probe("syn_fragmented", families=(4,), linux={"reply": "SA seq=0 ack=1"})
def syn_fragmented(t):
    """A SYN cut into 8-byte IPv4 fragments: reassembled and answered."""
    c = Conn(t)
    pkt = t.ip(flags=0, id=random.getrandbits(16)) / TCP(
        sport=c.sport, dport=c.dport, flags="S", seq=c.iss,
        options=c.syn_options(), window=65535)
    m = CAP.mark()
    for frag in fragment(pkt, fragsize=8):
        t.send(frag)
    got = c.replies(m, 1.5)
    if not got:
        return {"reply": "none"}
    p = got[0][1]
    c.irs = p[TCP].seq
    c.snd_nxt = c.iss + 1
    c.reset()
    return {"reply": c.summary(p)}


@probe("isn", linux={"isn": "unpredictable"})
def isn(t):
    """ISNs of 8 connections in a row from different ports: Linux's
    (RFC 6528) are a keyed hash plus a clock, so consecutive ones differ by
    large unpredictable amounts."""
    isns = []
    for _ in range(8):
        c = Conn(t)
        _, p, _ = c.syn()
        if p is None or str(p[TCP].flags) != "SA":
            return {"isn": "no SYN-ACK"}
        isns.append(p[TCP].seq)
        c.reset()
    steps = [((b - a + 2**31) % 2**32) - 2**31 for a, b in zip(isns, isns[1:])]
    if max(abs(s) for s in steps) < 2**20:
        kind = "small steps"
    elif all(abs(s) >= 2**16 for s in steps):
        kind = "unpredictable"
    else:
        kind = "some small steps"
    return {"isn": kind, "_steps": steps}


@probe("synack_retransmission", linux={"first_retransmission": "500ms-1.5s"})
def synack_retransmission(t):
    """SYN, and the final ACK never comes: when the SYN-ACK is sent again
    (Linux: after its initial RTO, 1 s)."""
    c = Conn(t)
    m = CAP.mark()
    c.seg("S", options=c.syn_options())
    got = c.replies(m, 4.0, count=2, pred=lambda p: str(p[TCP].flags) == "SA")
    c.snd_nxt = c.iss + 1
    c.reset()
    if len(got) < 1:
        return {"first_retransmission": "no SYN-ACK"}
    dt = got[1][0] - got[0][0] if len(got) > 1 else None
    return {"first_retransmission": tclass(dt),
            "_seconds": round(dt, 3) if dt is not None else None}


# ----------------------------------------------------- validating segments

@probe("data_acking_unsent", linux={"reply": "A seq=1 ack=1", "app_read": "OK"})
def data_acking_unsent(t):
    """Data whose ACK field acknowledges bytes the target never sent
    (RFC 5961 5.2, RFC 9293 3.10.7.4): Linux drops it, answers with an ACK
    and the application never reads it."""
    c = established(t)
    m = CAP.mark()
    c.seg("PA", data=b"INJECTED", ack=c.rcv_nxt + 100000)
    reply = c.first_reply(m)
    c.adopt(m)
    data, _ = c.barrier()
    c.reset()
    return {"reply": reply, "app_read": compact(data)}


@probe("data_without_ack", linux={"reply": "none", "app_read": "OK"})
def data_without_ack(t):
    """A data segment without the ACK bit (RFC 9293 3.10.7.4: drop it):
    no answer, the application never reads it."""
    c = established(t)
    m = CAP.mark()
    c.seg("P", data=b"INJECTED", ack=0)
    reply = c.first_reply(m)
    c.adopt(m)
    data, _ = c.barrier()
    c.reset()
    return {"reply": reply, "app_read": compact(data)}


@probe("bad_tcp_checksum", linux={"reply": "none", "app_read": "OK"})
def bad_tcp_checksum(t):
    """A data segment with a wrong TCP checksum: dropped unseen."""
    c = established(t)
    m = CAP.mark()
    c.seg("PA", data=b"CORRUPT!", chksum=0x1234)
    reply = c.first_reply(m)
    c.adopt(m)
    data, _ = c.barrier()
    c.reset()
    return {"reply": reply, "app_read": compact(data)}


@probe("rst_in_window", linux={"reply": "A seq=1 ack=1", "app_read": "OK",
                               "app_end": None})
def rst_in_window(t):
    """RST with a sequence number inside the window but not exactly
    RCV.NXT (RFC 5961 3.2): a challenge ACK, the connection lives on."""
    c = established(t)
    m = CAP.mark()
    c.seg("R", seq=c.snd_nxt + 10, ack=0)
    reply = c.first_reply(m)
    data, how = c.barrier()
    c.reset()
    return {"reply": reply, "app_read": compact(data), "app_end": how}


@probe("rst_exact", linux={"reply": "none", "reply_to_data": "R seq=1",
                           "app_end": "error:ECONNRESET"})
def rst_exact(t):
    """RST with SEQ = RCV.NXT: the connection is reset at once (no answer),
    later data gets a RST, the application sees ECONNRESET."""
    c = established(t)
    m = CAP.mark()
    c.seg("R", seq=c.snd_nxt, ack=0)
    reply = c.first_reply(m)
    m = CAP.mark()
    c.send_data(b"LATE")
    reply_data = c.first_reply(m, 1.0)
    _, how = app_read(t, c.sport, end=True)
    return {"reply": reply, "reply_to_data": reply_data, "app_end": how}


@probe("rst_out_of_window", linux={"reply": "none", "app_read": "OK",
                                   "app_end": None})
def rst_out_of_window(t):
    """RST with a sequence number far outside the window: ignored."""
    c = established(t)
    m = CAP.mark()
    c.seg("R", seq=c.snd_nxt + 2**31, ack=0)
    reply = c.first_reply(m)
    data, how = c.barrier()
    c.reset()
    return {"reply": reply, "app_read": compact(data), "app_end": how}


@probe("syn_on_established", linux={"reply": "A seq=1 ack=1", "app_read": "OK",
                                    "app_end": None})
def syn_on_established(t):
    """A SYN on an established connection (RFC 5961 4.2): a challenge ACK,
    the connection lives on."""
    c = established(t)
    m = CAP.mark()
    c.seg("S", seq=c.snd_nxt, ack=0, options=c.syn_options())
    reply = c.first_reply(m)
    data, how = c.barrier()
    c.reset()
    return {"reply": reply, "app_read": compact(data), "app_end": how}


@probe("data_out_of_window", linux={"reply": "A seq=1 ack=1", "app_read": "OK"})
def data_out_of_window(t):
    """Data 2^30 bytes beyond RCV.NXT: a duplicate ACK, nothing read."""
    c = established(t)
    m = CAP.mark()
    c.seg("PA", seq=c.snd_nxt + 2**30, data=b"FARAWAY!")
    reply = c.first_reply(m)
    data, _ = c.barrier()
    c.reset()
    return {"reply": reply, "app_read": compact(data)}


@probe("out_of_order", linux={"reply": "A seq=1 ack=1 sack=101-201",
                              "reply_to_fill": "A seq=1 ack=201",
                              "app_read": "{A*100}{B*100}"})
def out_of_order(t):
    """A segment after a 100-byte hole: an immediate duplicate ACK with a
    SACK block for it (RFC 2018); filling the hole delivers both in order."""
    c = established(t)
    m = CAP.mark()
    c.seg("PA", seq=c.snd_nxt + 100, data=b"B" * 100)
    reply = c.first_reply(m)
    m = CAP.mark()
    c.seg("PA", seq=c.snd_nxt, data=b"A" * 100)
    c.snd_nxt += 200
    fill = c.first_reply(m)
    data, _ = app_read(t, c.sport, until=b"B" * 100)
    c.reset()
    return {"reply": reply, "reply_to_fill": fill, "app_read": compact(data)}


@probe("ack_delay", linux={"ack": "<40ms"})
def ack_delay(t):
    """How soon a lone data segment is acknowledged at the start of a
    connection (Linux: quick ACKs, at once); the fastest of three."""
    c = established(t)
    best = None
    for i in range(3):
        m = CAP.mark()
        t0 = c.send_data(b"x")
        got = c.replies(m, 1.0, pred=lambda p: p[TCP].ack == c.snd_nxt)
        if got:
            dt = got[0][0] - t0
            best = dt if best is None else min(best, dt)
    c.reset()
    return {"ack": tclass(best, (0.04, 0.15, 0.5)),
            "_seconds": round(best, 4) if best is not None else None}


@probe("fin", linux={"fin_acked": True, "target_fin": True, "app_end": "eof"})
def fin(t):
    """FIN from the prober: acknowledged, the application reads EOF and
    closes, the target's FIN follows."""
    c = established(t)
    m = CAP.mark()
    c.seg("FA")
    c.snd_nxt += 1
    _, how = app_read(t, c.sport, end=True)
    got = c.replies(m, 1.0, count=10**6)
    acked = any(p[TCP].ack == c.snd_nxt % 2**32 for _, p in got)
    target_fin = any("F" in str(p[TCP].flags) for _, p in got)
    c.reset()
    return {"fin_acked": acked, "target_fin": target_fin, "app_end": how}


@probe("urgent_data", linux={"app_read": "acOK"})
def urgent_data(t):
    """b"abc" with URG and the urgent pointer after "b": Linux keeps the
    urgent byte out of band (no SO_OOBINLINE), plain reads skip it."""
    c = established(t)
    c.seg("PAU", data=b"abc", urgptr=2)
    c.snd_nxt += 3
    data, _ = c.barrier()
    c.reset()
    return {"app_read": compact(data)}


@probe("urgent_send", linux={"flags": "PAU", "urgptr": 2, "data": "7576"})
def urgent_send(t):
    """The application sends b"uv" with MSG_OOB: Linux sends both bytes with
    URG and the urgent pointer after "v" (the BSD reading, RFC 6093)."""
    c = established(t)
    m = CAP.mark()
    c.send_data(b"URGENT")
    got = c.replies(m, 2.0, pred=lambda p: len(p[TCP].payload) > 0)
    c.reset()
    if not got:
        return {"reply": "no data"}
    p = got[0][1][TCP]
    return {"flags": str(p.flags), "urgptr": p.urgptr, "data": bytes(p.payload).hex()}


@probe("time_wait_reuse", linux={"reply": "SA"})
def time_wait_reuse(t):
    """The target closes first (TIME-WAIT on its side); a new SYN from the
    same port with a higher sequence number (RFC 6191, RFC 9293 3.6.1):
    Linux opens the new connection."""
    c = _in_time_wait(t)
    if c is None:
        return {"reply": "target sent no FIN"}
    return {"reply": _syn_to_time_wait(t, c, c.snd_nxt + 100000, options=c.syn_options())}


def _in_time_wait(t, tsval=None):
    """A connection to the reader that the target closed first, so that it
    is in TIME-WAIT on the target's side; with timestamps (the peer's SYN
    carrying `tsval`, its later segments none) if `tsval` is given. None
    if the target sent no FIN."""
    options = [("MSS", t.mss), ("SAckOK", b"")]
    if tsval is not None:
        options.append(("Timestamp", (tsval, 0)))
    c = established(t, options=options + [("NOP", None), ("WScale", 7)])
    m = CAP.mark()
    c.send_data(b"QUIT")
    got = c.replies(m, 2.0, pred=lambda p: "F" in str(p[TCP].flags))
    if not got:
        c.reset()
        return None
    c.rcv_nxt = (got[0][1][TCP].seq + len(got[0][1][TCP].payload) + 1) % 2**32
    m = CAP.mark()
    c.seg("FA")
    c.snd_nxt += 1
    c.replies(m, 1.0, pred=lambda p: p[TCP].ack == c.snd_nxt % 2**32)
    time.sleep(0.05)
    return c


def _syn_to_time_wait(t, c, seq, tsval=None, options=None):
    """The flags of the target's answer to a SYN from `c`'s port with `seq`
    (and a timestamp `tsval`, or else `options`), "none" if none came in
    1.5 s."""
    c2 = Conn(t, sport=c.sport)
    c2.iss = seq % 2**32
    c2.snd_nxt = c2.iss
    if options is None:
        options = [("MSS", t.mss)]
        if tsval is not None:
            options.append(("Timestamp", (tsval, 0)))
    _, p, _ = c2.syn(options=options)
    if p is None:
        return "none"
    flags = str(p[TCP].flags)
    if flags == "SA":
        c2.snd_nxt = c2.iss + 1
        c2.reset()
    return flags.replace("P", "")


@probe("time_wait_syn_rules",
       linux={"old_syn": "A", "newer_timestamp": "SA", "older_timestamp": "A"})
def time_wait_syn_rules(t):
    """SYNs to a connection in TIME-WAIT on the target's side that do not
    reopen it by sequence number alone (RFC 6191): an old one (its sequence
    number below what the target received) is answered with an ACK; with
    timestamps, a newer TSval reopens whatever the sequence number, and an
    older one is refused by PAWS (an ACK) whatever the sequence number."""
    out = {}
    c = _in_time_wait(t)
    out["old_syn"] = _syn_to_time_wait(t, c, c.snd_nxt - 1000) if c else "no TIME-WAIT"
    c = _in_time_wait(t, tsval=100000)
    out["newer_timestamp"] = (_syn_to_time_wait(t, c, c.snd_nxt - 100000, tsval=200000)
                              if c else "no TIME-WAIT")
    c = _in_time_wait(t, tsval=100000)
    out["older_timestamp"] = (_syn_to_time_wait(t, c, c.snd_nxt + 100000, tsval=50000)
                              if c else "no TIME-WAIT")
    return out


# ------------------------------------------------------------ closed ports

@probe("ack_to_closed_port", linux={"reply": "R", "seq_is_seg_ack": True})
def ack_to_closed_port(t):
    """A bare ACK to a port nobody listens on (RFC 9293 3.10.7.1): a RST
    with SEQ = SEG.ACK and no ACK bit."""
    c = Conn(t, dport=wb.CLOSED_PORT)
    seg_ack = random.getrandbits(32)
    m = CAP.mark()
    c.seg("A", seq=c.iss, ack=seg_ack)
    got = c.replies(m, 1.0)
    if not got:
        return {"reply": "none"}
    p = got[0][1]
    return {"reply": str(p[TCP].flags), "seq_is_seg_ack": p[TCP].seq == seg_ack}


@probe("connect_host_unreachable", linux={"result": "EHOSTUNREACH", "within_1s": True})
def connect_host_unreachable(t):
    """The application connects out; a router answers its SYN with ICMP
    host unreachable (ICMPv6 address unreachable): Linux fails the connect
    at once with EHOSTUNREACH (tcp_v4_err / tcp_v6_err in SYN-SENT), where
    waiting out the SYN retransmissions would take 127 s."""
    port = next(_ports)
    m = CAP.mark()
    t.send(t.ip() / UDP(sport=port, dport=wb.UDP_PORT) /
           Raw(("CONNECT %s %d" % (t.src, port)).encode()))
    got = CAP.wait(lambda p: (t.ip_of(p) is not None and TCP in p and p[TCP].dport == port
                              and str(p[TCP].flags) == "S"), 1.5, m)
    if not got:
        return {"result": "no SYN"}
    l3 = bytes(got[0][1][IP] if t.fam == 4 else got[0][1][IPv6])
    quoted = l3[:(20 if t.fam == 4 else 40) + 20]
    if t.fam == 4:
        t.send(t.ip() / ICMP(type=3, code=1) / Raw(quoted))
    else:
        t.send(t.ip() / ICMPv6DestUnreach(code=3) / Raw(quoted))
    e = connect_event(t, port, 4.0)
    if e is None:
        return {"result": "no connect event"}
    return {"result": e["result"], "within_1s": e["seconds"] < 1.0, "_seconds": e["seconds"]}


def connect_event(t, port, timeout):
    """The application's "connect" event for its connect to `port`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for e in BED.app_events(t.name):
            if e.get("ev") == "connect" and e.get("port") == port:
                return e
        time.sleep(0.05)
    return None


@probe("connect_no_neighbour", linux={"result": "EHOSTUNREACH", "after": "1.5s-6s"})
def connect_no_neighbour(t):
    """The application connects to an address on its link that nobody has:
    Linux gives up address resolution after 3 s and fails the connect with
    EHOSTUNREACH (arp_error_report / ndisc_error_report), where waiting out
    the SYN retransmissions would take 127 s."""
    port = next(_ports)
    nobody = t.src.rsplit(".", 1)[0] + ".99" if t.fam == 4 else t.src.rsplit(":", 1)[0] + ":99"
    t.send(t.ip() / UDP(sport=port, dport=wb.UDP_PORT) /
           Raw(("CONNECT %s %d" % (nobody, port)).encode()))
    e = connect_event(t, port, 9.0)
    if e is None:
        return {"result": "no connect event"}
    return {"result": e["result"], "after": tclass(e["seconds"], (0.5, 1.5, 6)),
            "_seconds": e["seconds"]}


@probe("syn_to_closed_port", linux={"reply": "RA seq=0 ack=1"})
def syn_to_closed_port(t):
    """A SYN to a port nobody listens on: RST+ACK, SEQ 0, ACK = ISN + 1."""
    c = Conn(t, dport=wb.CLOSED_PORT)
    _, p, _ = c.syn()
    if p is None:
        return {"reply": "none"}
    return {"reply": "%s seq=%d ack=%d" % (str(p[TCP].flags), p[TCP].seq,
                                          c.rel_ack(p))}


# --------------------------------------------------------- sending side

_writer_runs = {}


def writer_run(t):
    """A connection to the writer port that the prober never acknowledges:
    the data segments of the first 3.5 s (or until the first one is sent
    again). Shared by the initial window and retransmission probes."""
    key = (t.name, t.fam)
    if key not in _writer_runs:
        c = Conn(t, dport=wb.WRITER_PORT)
        m = CAP.mark()
        # An RTT of 50 ms rather than ~0: Linux's tail loss probe (2 RTT
        # after the burst) then comes well after the initial window.
        c.open(ack_delay=0.05)
        segs = []
        i = m
        deadline = time.monotonic() + 3.5
        while time.monotonic() < deadline:
            CAP.pump(0.05)
            while i < len(CAP.packets):
                ts, _, p = CAP.packets[i]
                i += 1
                if c.mine(p) and len(p[TCP].payload) > 0:
                    segs.append((ts, p))
            if len(segs) > 1 and any(p[TCP].seq == segs[0][1][TCP].seq
                                     for _, p in segs[1:]):
                break
        c.snd_nxt = c.iss + 1
        c.reset()
        _writer_runs[key] = (c, segs)
    return _writer_runs[key]


@probe("initial_window", linux={"segments": 10})
def initial_window(t):
    """How many full-sized segments the target sends at the start of a
    connection before it needs an ACK, when the application writes a lot
    (Linux: 10, RFC 6928), with a 50 ms RTT. Bytes of the first burst (no
    gap over 40 ms, so Linux's tail loss probe, 2 RTT later, is not
    counted) / MSS."""
    c, segs = writer_run(t)
    if not segs:
        return {"segments": "no data"}
    seq0 = segs[0][1][TCP].seq
    end = seq0
    last = segs[0][0]
    for ts, p in segs:
        if ts - last > 0.04:
            break
        last = ts
        e = p[TCP].seq + len(p[TCP].payload)
        if (e - end) % 2**32 < 2**31:
            end = e
    sent = (end - seq0) % 2**32
    return {"segments": round(sent / t.mss), "_bytes": sent}


@probe("first_retransmission", linux={"class": "150ms-500ms"})
def first_retransmission(t):
    """When the first data segment is sent again if no ACK comes, after a
    handshake with a 50 ms RTT (Linux: RTO = RTT + 200 ms)."""
    c, segs = writer_run(t)
    if not segs:
        return {"class": "no data"}
    ts0, p0 = segs[0]
    for ts, p in segs[1:]:
        if p[TCP].seq == p0[TCP].seq:
            return {"class": tclass(ts - ts0), "_seconds": round(ts - ts0, 3)}
    return {"class": "none within 3.5s"}


@probe("zero_window_probe", linux={"first_probe": "150ms-500ms"})
def zero_window_probe(t):
    """The prober's window is 0 from the SYN on, and the application
    writes: when the first zero-window probe comes."""
    c = Conn(t, dport=wb.WRITER_PORT)
    c.open(options=c.syn_options(ws=None), window=0)
    t0 = time.time()
    m = CAP.mark()
    got = c.replies(m, 2.5)
    c.reset()
    return {"first_probe": tclass(got[0][0] - t0 if got else None),
            "_seconds": round(got[0][0] - t0, 3) if got else None}


# ------------------------------------------------------------------ IP

@probe("reply_ttl", linux={"syn_ack": 64, "rst": 64, "echo_reply": 64})
def reply_ttl(t):
    """TTL / hop limit of a SYN-ACK, a RST and an echo reply (Linux 64)."""
    rec = {}
    c = Conn(t)
    _, p, _ = c.syn()
    rec["syn_ack"] = t.ttl(p) if p is not None else None
    if p is not None:
        c.reset()
    c = Conn(t, dport=wb.CLOSED_PORT)
    _, p, _ = c.syn()
    rec["rst"] = t.ttl(p) if p is not None else None
    p = echo(t)
    rec["echo_reply"] = t.ttl(p) if p is not None else None
    return rec


def echo(t, options=None):
    ident = random.getrandbits(16)
    if t.fam == 4:
        req = t.ip(options=options or []) / ICMP(id=ident, seq=1) / Raw(b"wire")
        pred = lambda p: (t.ip_of(p) is not None and ICMP in p
                          and p[ICMP].type == 0 and p[ICMP].id == ident)
    else:
        req = t.ip() / ICMPv6EchoRequest(id=ident, seq=1, data=b"wire")
        pred = lambda p: (t.ip_of(p) is not None and ICMPv6EchoReply in p
                          and p[ICMPv6EchoReply].id == ident)
    m = CAP.mark()
    t.send(req)
    got = CAP.wait(pred, 1.0, m)
    return got[0][1] if got else None


@probe("echo_record_route", families=(4,), linux={"reply": True, "rr_filled": 2})
def echo_record_route(t):
    """An echo request with an empty record-route option (9 slots): Linux
    echoes the option with its own address recorded."""
    p = echo(t, [IPOption_RR(pointer=4, routers=["0.0.0.0"] * 9)])
    if p is None:
        return {"reply": False}
    rr = [o for o in p[IP].options if isinstance(o, IPOption_RR)]
    return {"reply": True, "rr_filled": (rr[0].pointer - 4) // 4 if rr else "absent"}


@probe("echo_source_route", families=(4,), linux={"reply": False})
def echo_source_route(t):
    """An echo request with a loose source route (RFC 7126): Linux
    (accept_source_route=0) drops it."""
    p = echo(t, [IPOption_LSRR(pointer=8, routers=[t.src])])
    return {"reply": p is not None}


@probe("udp_zero_checksum", linux=lambda fam: {
    "app_read": ["ZERO", "GOOD"] if fam == 4 else ["GOOD"]})
def udp_zero_checksum(t):
    """A UDP datagram with checksum 0, then a good one: IPv4 takes 0 as "no
    checksum"; IPv6 must drop it (RFC 8200 8.1)."""
    sport = next(_ports)
    t.send(t.ip() / UDP(sport=sport, dport=wb.UDP_PORT, chksum=0) / Raw(b"ZERO"))
    time.sleep(0.05)
    t.send(t.ip() / UDP(sport=sport, dport=wb.UDP_PORT) / Raw(b"GOOD"))
    deadline = time.monotonic() + APP_WAIT
    while True:
        got = [bytes.fromhex(e["hex"]).decode(errors="replace")
               for e in BED.app_events(t.name)
               if e["ev"] == "udp" and e["rp"] == sport]
        if "GOOD" in got or time.monotonic() > deadline:
            return {"app_read": got}
        CAP.pump(0.02)


def ack_of(c, since):
    got = c.replies(since, 1.0, pred=lambda p: p[TCP].ack == c.snd_nxt % 2**32)
    return got[0][1] if got else None


@probe("ipv4_id", families=(4,), linux={"ids": "per connection"})
def ipv4_id(t):
    """IPv4 IDs of the ACKs of two connections, interleaved: one counter
    for the whole stack lets anyone count others' traffic (RFC 7739);
    Linux keeps a counter per connection starting at a random value."""
    a, b = established(t), established(t)
    seen = []
    for i in range(2):
        for c in (a, b):
            m = CAP.mark()
            c.send_data(b"id")
            p = ack_of(c, m)
            if p is None:
                return {"ids": "no ACK"}
            seen.append(p[IP].id)
    a.reset()
    b.reset()
    steps = [(y - x) % 65536 for x, y in zip(seen, seen[1:])]
    if all(i == 0 for i in seen):
        kind = "zero"
    elif all(1 <= s <= 4 for s in steps):
        kind = "one counter"
    elif 1 <= (seen[2] - seen[0]) % 65536 <= 4 and 1 <= (seen[3] - seen[1]) % 65536 <= 4:
        kind = "per connection"
    else:
        kind = "random"
    return {"ids": kind, "_ids": seen}


@probe("ipv4_df", families=(4,), linux={"syn_ack_df": True, "data_ack_df": True})
def ipv4_df(t):
    """Don't Fragment on the SYN-ACK and on later segments (RFC 1191 path
    MTU discovery, on by default in Linux)."""
    c = Conn(t)
    p = c.open()
    syn_ack_df = bool(p[IP].flags.DF)
    m = CAP.mark()
    c.send_data(b"df")
    p = ack_of(c, m)
    c.reset()
    return {"syn_ack_df": syn_ack_df,
            "data_ack_df": bool(p[IP].flags.DF) if p is not None else None}



def _writer_connection(t):
    """A connection to the writer app and its first data segment (None,
    and the connection reset, if none came within 2 s)."""
    c = Conn(t, dport=wb.WRITER_PORT)
    m = CAP.mark()
    c.open(ack_delay=0.05)
    first = c.replies(m, 2.0, pred=lambda p: len(p[TCP].payload) > 0)
    if not first:
        c.reset()
        return c, None
    return c, first[0][1]


def _too_big(t, c, first, seq_offset=0):
    """Sends ICMP "fragmentation needed" / ICMPv6 "packet too big" with MTU
    1280 for `first`, a data segment of `c`, its quoted sequence number
    moved by `seq_offset`, once the rest of the first flight has passed.
    Returns the first data after it (at once, or at the next
    retransmission; at most 3.5 s) and what follows within 200 ms,
    with the time it was sent and the payload limit of a 1280-byte packet."""
    orig = t.ip_of(first)
    quoted = bytearray(bytes(orig)[: (orig.ihl * 4 if t.fam == 4 else 40) + 8])
    if seq_offset:
        at = len(quoted) - 4
        seq = (int.from_bytes(quoted[at:], "big") + seq_offset) % 2**32
        quoted[at:] = seq.to_bytes(4, "big")
    if t.fam == 4:
        icmp = t.ip() / ICMP(type=3, code=4, nexthopmtu=1280) / Raw(bytes(quoted))
        limit = 1280 - 40
    else:
        icmp = t.ip() / ICMPv6PacketTooBig(mtu=1280) / Raw(bytes(quoted))
        limit = 1280 - 60

    def carries_data(p):
        return t.ip_of(p) is not None and (_fragment(p) or (
            c.mine(p) and len(p[TCP].payload) > 0))

    # Let the rest of the target's first flight pass (0.1 s, before any
    # retransmission), so that what follows the error answers it.
    CAP.wait(lambda p: False, 0.1, CAP.mark())
    m = CAP.mark()
    t0 = t.send(icmp)
    data = CAP.wait(carries_data, 3.5, m)
    if data:
        data = CAP.wait(carries_data, 0.2, m, count=10**6)
    return data, t0, limit


def _fragment(p):
    return IPv6ExtHdrFragment in p or (IP in p and (p[IP].frag or p[IP].flags.MF))


def _segment_kind(data, limit):
    sizes = [p.gso_size or len(p[TCP].payload) for _, p in data if TCP in p]
    if any(_fragment(p) for _, p in data):
        return "IP fragments"
    if sizes and max(sizes) <= limit:
        return "fit 1280"
    return "too big (%d)" % max(sizes) if sizes else "none"


@probe("path_mtu_blind", linux={"segments": "too big"})
def path_mtu_blind(t):
    """ICMP "fragmentation needed" / ICMPv6 "packet too big" (MTU 1280)
    quoting a sequence number the connection never sent, as a blind
    attacker would forge it: Linux ignores it (RFC 5927 4.1) and its
    retransmission is still full-sized. Before path_mtu: Linux keeps a
    learnt path MTU."""
    c, first = _writer_connection(t)
    if first is None:
        return {"segments": "no data"}
    data, _, limit = _too_big(t, c, first, seq_offset=2**31)
    c.snd_nxt = c.iss + 1
    c.reset()
    kind = _segment_kind(data, limit) if data else "none"
    return {"segments": "too big" if kind.startswith("too big") else kind}


# Last: a target that learns the path MTU keeps it for the prober's address.
@probe("path_mtu", linux={"resent": "<50ms", "segments": "fit 1280"})
def path_mtu(t):
    """ICMP "fragmentation needed" / ICMPv6 "packet too big" with MTU 1280
    for the first data segment of a connection (RFC 1191, RFC 8201): Linux
    sends the unacknowledged data again at once in segments that fit.
    Waits for the first data after the error (at most 3.5 s)."""
    c, first = _writer_connection(t)
    if first is None:
        return {"resent": "no data"}
    data, t0, limit = _too_big(t, c, first)
    c.snd_nxt = c.iss + 1
    c.reset()
    if not data:
        return {"resent": "none within 3.5s", "segments": "none"}
    return {"resent": tclass(data[0][0] - t0), "segments": _segment_kind(data, limit)}


# After path_mtu, which taught the target the path MTU for the prober.
@probe("path_mtu_remembered", linux={"first_segment": "fit 1280"})
def path_mtu_remembered(t):
    """A new connection after path_mtu: Linux keeps the learnt path MTU per
    destination (10 minutes, mtu_expires) and sends its first data in
    segments that fit, with no ICMP error needed; its SYN-ACK advertises
    an MSS that fits too."""
    c, first = _writer_connection(t)
    if first is None:
        return {"first_segment": "no data"}
    c.snd_nxt = c.iss + 1
    c.reset()
    mss = dict((k, v) for k, v in c.synack[TCP].options).get("MSS")
    limit = 1280 - (40 if t.fam == 4 else 60)
    size = first.gso_size or len(first[TCP].payload)
    return {"first_segment": "fit 1280" if size <= limit else "too big (%d)" % size,
            "syn_ack_mss": mss}
