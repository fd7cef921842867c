"""The packet-level differential wire bench (issue 16).

Every probe crafts TCP/IP packets with scapy and runs twice: against a Linux
socket in a namespace behind a veth pair, and against a stackd socket behind
its TAP. Each run yields a normalised record (flags, sequence and
acknowledgement numbers relative to the ISNs, options, TTL, timing classes,
what the application read); the records must be equal.

  ns P "stackd-t-PID-w"  (the prober: scapy on AF_PACKET sockets)
    veth wpPID 10.43.0.1 fd43::1  <->  ns L "stackd-t-PID-wl": wlPID 10.43.0.2
                                       fd43::2, wire_app.py (kernel sockets)
    TAP  wtPID 10.42.0.1 fd42::1  <->  stackd 10.42.0.2 fd42::2; wire_app.py
                                       under vustack in ns A "stackd-t-PID-wa"
                                       (loopback only)

Both links have MTU 1500. P owns its addresses (so the targets resolve it
with ARP and ND as usual), and an nftables rule in P drops incoming TCP to
the prober's ports, so P's kernel never answers the crafted conversations
(AF_PACKET sees the packets before netfilter does).

Probes are in wire_probes.py; the differences stackd has today are listed
in known_differences.py, the only place that excuses one. A probe whose
records differ fails unless listed there (then it counts as skipped, "known
difference"); a listed probe whose records match fails too, so that the list
stays exact. A probe also fails when the Linux record is not what Linux is
known to do (the bench itself would be broken).

Writes JUnit XML to $XML_OUTPUT_FILE (one testcase per probe and family)
and a summary to stdout. Exits 1 if any testcase failed. Everything it
makes (namespaces, stackd, the applications, the temp dir) is removed in a
finally clause, and its processes die with it (PR_SET_PDEATHSIG); the
namespaces' names are owned by tests/testbed.h's SweepStaleTestbeds() if the
bench is killed outright.

Run: bazel test //tests/wire:wire_bench_test --spawn_strategy=local, or
directly as root: /usr/bin/python3 tests/wire/wire_bench.py [-k SUBSTRING]
(then the binaries come from bazel-bin).
"""

import argparse
import ctypes
import json
import os
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import traceback
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # nothing written beside the sources

import known_differences  # noqa: E402

PID = os.getpid()
NS_P = "stackd-t-%d-w" % PID
NS_L = "stackd-t-%d-wl" % PID
NS_A = "stackd-t-%d-wa" % PID
TAP = "wt%d" % PID
VETH_P = "wp%d" % PID
VETH_L = "wl%d" % PID
RUN_DIR = "/run/stackd-test"
PROGRAM_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"
PYTHON = "/usr/bin/python3"

STACK_MAC = "02:00:00:42:00:02"
LINUX_MAC = "02:00:00:43:00:02"
READER_PORT = 7001
WRITER_PORT = 7002
UDP_PORT = 7003
CLOSED_PORT = 7009
# The prober's own TCP/UDP ports: P's kernel drops TCP to them.
PROBE_PORTS = (40000, 60999)

ADDRS = {
    "linux": {4: ("10.43.0.1", "10.43.0.2"), 6: ("fd43::1", "fd43::2")},
    "stackd": {4: ("10.42.0.1", "10.42.0.2"), 6: ("fd42::1", "fd42::2")},
}

CLONE_NEWNET = 0x40000000
PR_SET_PDEATHSIG = 1
SO_TIMESTAMPNS = 35
SO_RCVBUFFORCE = 33
ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
SOL_PACKET = 263
PACKET_VNET_HDR = 15

_libc = ctypes.CDLL(None, use_errno=True)


def log(msg):
    sys.stdout.write(msg + "\n")
    sys.stdout.flush()


def die_with(sig):
    """A preexec_fn: the child gets `sig` when the bench dies."""
    return lambda: _libc.prctl(PR_SET_PDEATHSIG, sig)


def run(argv, timeout=15, check=True):
    """Runs argv, bounded by `timeout`; raises on failure if `check`."""
    r = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, timeout=timeout, env={"PATH": PROGRAM_PATH})
    if check and r.returncode != 0:
        raise RuntimeError("%s: exit %d: %s" % (" ".join(argv), r.returncode,
                                                r.stderr.strip()))
    return r


def runfile(path, fallback):
    for var in ("TEST_SRCDIR", "RUNFILES_DIR"):
        root = os.environ.get(var)
        if root and os.path.exists(os.path.join(root, "stackd", path)):
            return os.path.join(root, "stackd", path)
    return fallback


def setns(name):
    fd = os.open("/run/netns/" + name, os.O_RDONLY)
    try:
        if _libc.setns(fd, CLONE_NEWNET) != 0:
            e = ctypes.get_errno()
            raise OSError(e, "setns " + name)
    finally:
        os.close(fd)


class Bed:
    """The namespaces, links, stackd and the two applications."""

    def __init__(self):
        self.procs = []
        self.namespaces = []
        self.dir = None
        self.orig_ns = None
        repo = os.path.dirname(os.path.dirname(HERE))
        self.stackd_bin = os.environ.get("STACKD_BIN") or runfile(
            "stackd/stackd", os.path.join(repo, "bazel-bin/stackd/stackd"))
        self.vustack_bin = runfile(
            "vustack/vustack", os.path.join(repo, "bazel-bin/vustack/vustack"))
        self.app = os.path.join(HERE, "wire_app.py")

    def start(self):
        os.makedirs(RUN_DIR, exist_ok=True)
        self.dir = tempfile.mkdtemp(prefix=NS_P + ".", dir=RUN_DIR)
        self.stack_path = os.path.join(self.dir, "net")
        for ns in (NS_P, NS_L, NS_A):
            run(["ip", "netns", "add", ns])
            self.namespaces.append(ns)
            run(["ip", "-n", ns, "link", "set", "lo", "up"])
        # The Linux target behind a veth pair.
        run(["ip", "-n", NS_P, "link", "add", VETH_P, "type", "veth", "peer",
             "name", VETH_L, "netns", NS_L])
        run(["ip", "-n", NS_L, "link", "set", VETH_L, "address", LINUX_MAC])
        for ns, dev, a4, a6 in ((NS_P, VETH_P, "10.43.0.1", "fd43::1"),
                                (NS_L, VETH_L, "10.43.0.2", "fd43::2")):
            run(["ip", "-n", ns, "addr", "add", a4 + "/24", "dev", dev])
            run(["ip", "-n", ns, "addr", "add", a6 + "/64", "dev", dev, "nodad"])
            run(["ip", "-n", ns, "link", "set", dev, "mtu", "1500", "up"])
        # stackd behind its TAP.
        self.stackd_log = os.path.join(self.dir, "stackd.log")
        # SIGTERM if the bench dies: stackd removes its sockets and TAP.
        self.spawn([self.stackd_bin, "--netns=" + NS_P, "--tap=" + TAP,
                    "--addr=10.42.0.2/24", "--addr=fd42::2/64", "--mtu=1500",
                    "--mac=" + STACK_MAC, self.stack_path], self.stackd_log,
                   death_signal=signal.SIGTERM)
        deadline = time.monotonic() + 15
        while not (self.accepts(self.stack_path)
                   and self.accepts(self.stack_path + ".grpc")):
            self.check_alive()
            if time.monotonic() > deadline:
                raise RuntimeError("stackd not ready: " + self.read(self.stackd_log))
            time.sleep(0.05)
        while True:
            r = run(["ip", "-n", NS_P, "addr", "replace", "10.42.0.1/24", "dev",
                     TAP], check=False)
            if r.returncode == 0:
                break
            if time.monotonic() > deadline:
                raise RuntimeError("TAP %s not in %s: %s" % (TAP, NS_P, r.stderr))
            time.sleep(0.05)
        run(["ip", "-n", NS_P, "addr", "replace", "fd42::1/64", "dev", TAP, "nodad"])
        # P's kernel keeps out of the crafted conversations.
        rules = ("table inet wirebench {\n chain input {\n"
                 "  type filter hook input priority -300; policy accept;\n"
                 "  meta l4proto tcp th dport %d-%d drop\n }\n}\n" % PROBE_PORTS)
        subprocess.run(["ip", "netns", "exec", NS_P, "nft", "-f", "-"],
                       input=rules, text=True, check=True, timeout=15,
                       capture_output=True, env={"PATH": PROGRAM_PATH})
        # The applications.
        self.app_logs = {}
        common = ["--reader", str(READER_PORT), "--writer", str(WRITER_PORT),
                  "--udp", str(UDP_PORT)]
        self.app_logs["linux"] = os.path.join(self.dir, "app-linux.jsonl")
        self.spawn(["ip", "netns", "exec", NS_L, "env", "-i",
                    "PATH=" + PROGRAM_PATH, PYTHON, self.app, "--log",
                    self.app_logs["linux"]] + common,
                   os.path.join(self.dir, "app-linux.out"))
        self.app_logs["stackd"] = os.path.join(self.dir, "app-stackd.jsonl")
        self.spawn(["ip", "netns", "exec", NS_A, "env", "-i",
                    "PATH=" + PROGRAM_PATH, "HOME=/root", self.vustack_bin,
                    self.stack_path, PYTHON, self.app, "--log",
                    self.app_logs["stackd"]] + common,
                   os.path.join(self.dir, "app-stackd.out"))
        deadline = time.monotonic() + 20
        for name, path in self.app_logs.items():
            while '"ready"' not in self.read(path):
                self.check_alive()
                if time.monotonic() > deadline:
                    raise RuntimeError("%s application not ready: %s" % (
                        name, self.read(path.replace(".jsonl", ".out"))))
                time.sleep(0.05)
        # Neighbour caches on every side, before anything is timed.
        for dst in ("10.43.0.2", "fd43::2", "10.42.0.2", "fd42::2"):
            run(["ip", "netns", "exec", NS_P, "ping", "-c", "2", "-i", "0.2",
                 "-W", "2", dst], timeout=10)
        self.orig_ns = os.open("/proc/self/ns/net", os.O_RDONLY)
        setns(NS_P)

    def spawn(self, argv, out_path, death_signal=signal.SIGKILL):
        out = open(out_path, "wb")
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out,
                             stderr=subprocess.STDOUT,
                             preexec_fn=die_with(death_signal),
                             start_new_session=True,
                             env={"PATH": PROGRAM_PATH})
        out.close()
        self.procs.append((p, out_path))
        return p

    def check_alive(self):
        for p, out_path in self.procs:
            if p.poll() is not None:
                raise RuntimeError("%s exited with %d: %s" % (
                    p.args[0], p.returncode, self.read(out_path)[-2000:]))

    @staticmethod
    def accepts(path):
        # The stack path is a SOCK_SEQPACKET socket, gRPC's a SOCK_STREAM one.
        for kind in (socket.SOCK_SEQPACKET, socket.SOCK_STREAM):
            s = socket.socket(socket.AF_UNIX, kind)
            try:
                s.connect(path)
                return True
            except OSError:
                pass
            finally:
                s.close()
        return False

    @staticmethod
    def read(path):
        try:
            with open(path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def app_events(self, target):
        events = []
        for line in self.read(self.app_logs[target]).splitlines():
            try:
                events.append(json.loads(line))
            except ValueError:
                pass  # a line being written
        return events

    def stop(self):
        if self.orig_ns is not None:
            try:
                _libc.setns(self.orig_ns, CLONE_NEWNET)
                os.close(self.orig_ns)
            except OSError:
                pass
        # The applications first (SIGTERM to their sessions), stackd last.
        for p, _ in reversed(self.procs):
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGTERM)
                except OSError:
                    pass
        deadline = time.monotonic() + 5
        for p, _ in self.procs:
            try:
                p.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except OSError:
                    pass
                p.wait(timeout=5)
        for ns in reversed(self.namespaces):
            run(["ip", "netns", "delete", ns], check=False)
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)


class Capture:
    """AF_PACKET sockets on P's two links: every frame the targets send,
    with the kernel's receive timestamp. Single-threaded: pump() reads
    what has arrived, bounded by its timeout."""

    def __init__(self, ifaces):
        from scapy.layers.l2 import Ether
        self.Ether = Ether
        self.socks = {}
        self.send_socks = {}
        for ifname in ifaces:
            s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW,
                              socket.htons(ETH_P_ALL))
            s.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 16 << 20)
            s.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
            # A virtio_net_hdr before each frame: a veth hands over GSO
            # super-packets, whose real segment size is its gso_size.
            s.setsockopt(SOL_PACKET, PACKET_VNET_HDR, 1)
            s.bind((ifname, 0))
            s.setblocking(False)
            self.socks[s] = ifname
            t = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
            t.bind((ifname, 0))
            self.send_socks[ifname] = t
        # (timestamp, ifname, scapy packet); each packet's gso_size
        # attribute is its segment size if it is a GSO packet, else 0.
        self.packets = []

    def send(self, ifname, frame):
        self.send_socks[ifname].send(bytes(frame))
        return time.time()

    def pump(self, timeout):
        r, _, _ = select.select(list(self.socks), [], [], max(0.0, timeout))
        for s in r:
            while True:
                try:
                    data, anc, _, addr = s.recvmsg(65600, 256)
                except BlockingIOError:
                    break
                if addr[2] == PACKET_OUTGOING:
                    continue
                ts = time.time()
                for level, kind, value in anc:
                    if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
                        sec, nsec = struct.unpack("qq", value[:16])
                        ts = sec + nsec / 1e9
                _, gso_type, _, gso_size, _, _ = struct.unpack_from("<BBHHHH", data)
                data = data[10:]
                ethertype = data[12:14]
                if ethertype not in (b"\x08\x00", b"\x86\xdd"):
                    continue
                p = self.Ether(data)
                p.gso_size = gso_size if gso_type else 0
                self.packets.append((ts, self.socks[s], p))

    def mark(self):
        self.pump(0)
        return len(self.packets)

    def wait(self, pred, timeout, since, count=1):
        """The first `count` packets from index `since` on that satisfy
        pred(packet), waiting at most `timeout` seconds: list of
        (timestamp, packet), shorter if time ran out."""
        deadline = time.monotonic() + timeout
        found = []
        i = since
        while True:
            while i < len(self.packets):
                ts, _, p = self.packets[i]
                i += 1
                if pred(p):
                    found.append((ts, p))
                    if len(found) >= count:
                        return found
            left = deadline - time.monotonic()
            if left <= 0:
                return found
            self.pump(min(left, 0.05))


def write_xml(path, results, elapsed):
    suite = ET.Element("testsuite", name="wire_bench")
    failures = skipped = 0
    for r in results:
        case = ET.SubElement(suite, "testcase", name=r["name"],
                             classname="wire_bench", time="%.3f" % r["time"])
        if r["status"] == "fail":
            failures += 1
            f = ET.SubElement(case, "failure", message=r["message"][:300])
            f.text = r["message"]
        elif r["status"] == "known":
            skipped += 1
            ET.SubElement(case, "skipped", message=r["message"][:300])
    suite.set("tests", str(len(results)))
    suite.set("failures", str(failures))
    suite.set("errors", "0")
    suite.set("skipped", str(skipped))
    suite.set("time", "%.3f" % elapsed)
    root = ET.Element("testsuites")
    root.append(suite)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)


def compare(name, linux, stackd):
    """Keys whose values differ, as 'key: linux=X stackd=Y' strings."""
    out = []
    for k in sorted(set(linux) | set(stackd)):
        if k.startswith("_"):
            continue
        if linux.get(k) != stackd.get(k):
            out.append("%s: linux=%r stackd=%r" % (k, linux.get(k), stackd.get(k)))
    if out:
        for k in sorted(set(linux) | set(stackd)):
            if k.startswith("_"):
                out.append("(%s: linux=%r stackd=%r)" % (k[1:], linux.get(k),
                                                        stackd.get(k)))
    return out


def linux_mismatches(record, expected):
    return ["%s: want %r, Linux gave %r" % (k, v, record.get(k))
            for k, v in sorted(expected.items()) if record.get(k) != v]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-k", default="", help="run only probes whose name has this")
    ap.add_argument("--budget", type=float, default=150,
                    help="seconds for all probes; the rest fail as not run")
    args = ap.parse_args()
    if os.geteuid() != 0:
        log("wire bench: needs root")
        return 1
    # Bazel ends a test that runs out of time with SIGTERM: clean up then too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    started = time.monotonic()
    results = []
    bed = Bed()
    try:
        try:
            bed.start()
            import wire_probes
            cap = Capture([TAP, VETH_P])
            wire_probes.init(bed, cap)
        except Exception:
            msg = "setting up the bench failed:\n" + traceback.format_exc()
            log(msg)
            results.append({"name": "setup", "status": "fail", "message": msg,
                            "time": time.monotonic() - started})
            return finish(results, started)
        for probe in wire_probes.PROBES:
            for fam in probe.families:
                name = "%s.ipv%d" % (probe.name, fam)
                if args.k not in name:
                    continue
                t0 = time.monotonic()
                if t0 - started > args.budget:
                    results.append({"name": name, "status": "fail", "time": 0,
                                    "message": "not run: the bench ran out of time"})
                    continue
                results.append(run_probe(probe, fam, name, bed))
                results[-1]["time"] = time.monotonic() - t0
                r = results[-1]
                log("%-28s %-6s %s" % (name, r["status"],
                                       r["message"].replace("\n", "; ")[:400]))
        return finish(results, started)
    finally:
        bed.stop()


def run_probe(probe, fam, name, bed):
    known = known_differences.KNOWN_DIFFERENCES.get(name)
    try:
        linux = probe.run("linux", fam)
        stackd = probe.run("stackd", fam)
    except Exception:
        message = "probe raised:\n" + traceback.format_exc()
        try:
            bed.check_alive()
        except RuntimeError as e:  # Say so when a target died.
            message += "\n" + str(e)
        return {"name": name, "status": "fail", "message": message}
    bad_linux = linux_mismatches(linux, probe.linux_expect(fam))
    if bad_linux:
        return {"name": name, "status": "fail",
                "message": "the Linux target did not behave as Linux does "
                           "(bench broken?): " + "; ".join(bad_linux)
                           + "\nlinux=%r\nstackd=%r" % (linux, stackd)}
    diffs = compare(name, linux, stackd)
    if diffs and known:
        return {"name": name, "status": "known", "diffs": diffs,
                "message": "known difference (%s): %s" % (known, "; ".join(diffs))}
    if diffs:
        return {"name": name, "status": "fail", "diffs": diffs,
                "message": "stackd differs from Linux: " + "; ".join(diffs)}
    if known:
        return {"name": name, "status": "fail",
                "message": "stackd matches Linux now: remove %s from "
                           "KNOWN_DIFFERENCES in tests/wire/known_differences.py"
                           " (record %r)" % (name, linux)}
    return {"name": name, "status": "pass", "message": repr(linux)}


def finish(results, started):
    elapsed = time.monotonic() - started
    xml = os.environ.get("XML_OUTPUT_FILE")
    if xml:
        write_xml(xml, results, elapsed)
    passed = [r for r in results if r["status"] == "pass"]
    known = [r for r in results if r["status"] == "known"]
    failed = [r for r in results if r["status"] == "fail"]
    log("")
    log("wire bench: %d probes, %d match Linux, %d known differences, "
        "%d failed (%.1f s)" % (len(results), len(passed), len(known),
                               len(failed), elapsed))
    for r in known:
        log("  known    %s: %s" % (r["name"], "; ".join(r.get("diffs", []))))
    for r in failed:
        log("  FAILED   %s: %s" % (r["name"], r["message"].replace("\n", " | ")))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
