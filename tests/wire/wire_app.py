"""The target application of the wire bench, the same program on both sides.

Run as an ordinary kernel program in the Linux target's namespace and under
vustack on the stack. It listens on every address of each family (IPv4 and
IPv6 sockets of their own, IPV6_V6ONLY) and writes one JSON line per event
to --log, flushed at once, so that the prober can tell what the application
read ("ev": "data" with the bytes in hex, "eof", "error" with the errno's
name, "udp" for a datagram). Ports:

  --reader PORT  TCP: reads with plain recv() (no SO_OOBINLINE, no MSG_OOB)
                 and logs what it read; closes its end when it has read
                 b"QUIT" (an active close, for TIME-WAIT probes); sends
                 b"uv" with MSG_OOB when it has read b"URGENT".
  --writer PORT  TCP: writes --write-bytes to every accepted connection at
                 once (for the initial window, retransmission and
                 zero-window probes) and then only reads.
  --udp PORT     UDP: logs every datagram. A datagram "CONNECT ADDR PORT"
                 also makes a non-blocking TCP connect to ADDR:PORT, logged
                 as {"ev": "connect", "result": "OK" or the errno's name}
                 when it completes, or "pending" after CONNECT_WAIT s.

It writes {"ev": "ready"} once all sockets listen, and runs until killed (at
most --lifetime seconds).
"""

import argparse
import errno
import json
import os
import selectors
import socket
import sys
import time

CONNECT_WAIT = 8.0


def errno_name(e):
    return errno.errorcode.get(e, str(e)) if e else "OK"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--log", required=True)
    ap.add_argument("--reader", type=int, required=True)
    ap.add_argument("--writer", type=int, required=True)
    ap.add_argument("--udp", type=int, required=True)
    ap.add_argument("--write-bytes", type=int, default=256 * 1024)
    ap.add_argument("--lifetime", type=float, default=300)
    args = ap.parse_args()

    log = open(args.log, "a", buffering=1)

    def emit(**kw):
        log.write(json.dumps(kw) + "\n")
        log.flush()

    sel = selectors.DefaultSelector()
    families = [(socket.AF_INET, "0.0.0.0"), (socket.AF_INET6, "::")]
    for family, any_addr in families:
        for port, kind in ((args.reader, "reader"), (args.writer, "writer")):
            s = socket.socket(family, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            s.bind((any_addr, port))
            s.listen(64)
            s.setblocking(False)
            sel.register(s, selectors.EVENT_READ, ("listen", kind, port))
        u = socket.socket(family, socket.SOCK_DGRAM)
        if family == socket.AF_INET6:
            u.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        u.bind((any_addr, args.udp))
        u.setblocking(False)
        sel.register(u, selectors.EVENT_READ, ("udp", "udp", args.udp))
    emit(ev="ready", pid=os.getpid())

    payload = bytes(range(256)) * (args.write_bytes // 256 + 1)
    payload = payload[: args.write_bytes]
    pending = {}  # socket -> bytes still to write
    connecting = {}  # socket -> (port, start time)
    deadline = time.monotonic() + args.lifetime

    def close(conn):
        pending.pop(conn, None)
        try:
            sel.unregister(conn)
        except (KeyError, ValueError):
            pass
        conn.close()

    def connect_done(sock, result):
        port, t0 = connecting.pop(sock)
        emit(ev="connect", port=port, result=result,
             seconds=round(time.monotonic() - t0, 3))
        sel.unregister(sock)
        sock.close()

    while time.monotonic() < deadline:
        for sock, (port, t0) in list(connecting.items()):
            if time.monotonic() - t0 > CONNECT_WAIT:
                connect_done(sock, "pending")
        for key, events in sel.select(timeout=0.2):
            sock = key.fileobj
            what, kind, port = key.data
            if what == "connecting":
                connect_done(sock, errno_name(
                    sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)))
            elif what == "listen":
                try:
                    conn, peer = sock.accept()
                except OSError:
                    continue
                conn.setblocking(False)
                info = {"lp": port, "rp": peer[1], "kind": kind}
                emit(ev="accept", **info)
                mask = selectors.EVENT_READ
                if kind == "writer":
                    pending[conn] = payload
                    mask |= selectors.EVENT_WRITE
                sel.register(conn, mask, ("conn", kind, info))
            elif what == "udp":
                try:
                    data, peer = sock.recvfrom(65536)
                except OSError:
                    continue
                emit(ev="udp", lp=port, rp=peer[1], hex=data.hex())
                if data.startswith(b"CONNECT "):
                    _, host, to_port = data.decode().split()
                    family = socket.AF_INET6 if ":" in host else socket.AF_INET
                    c = socket.socket(family, socket.SOCK_STREAM)
                    c.setblocking(False)
                    err = c.connect_ex((host, int(to_port)))
                    connecting[c] = (int(to_port), time.monotonic())
                    sel.register(c, selectors.EVENT_WRITE, ("connecting", "out", int(to_port)))
                    if err not in (0, errno.EINPROGRESS):
                        connect_done(c, errno_name(err))
            else:
                info = port
                if events & selectors.EVENT_WRITE and conn_ok(sock):
                    rest = pending.get(sock, b"")
                    try:
                        n = sock.send(rest)
                        rest = rest[n:]
                    except BlockingIOError:
                        pass
                    except OSError as e:
                        emit(ev="error", errno=errno.errorcode.get(e.errno, str(e.errno)), **info)
                        close(sock)
                        continue
                    if rest:
                        pending[sock] = rest
                    else:
                        pending.pop(sock, None)
                        sel.modify(sock, selectors.EVENT_READ, key.data)
                if events & selectors.EVENT_READ:
                    try:
                        data = sock.recv(65536)
                    except BlockingIOError:
                        continue
                    except OSError as e:
                        emit(ev="error", errno=errno.errorcode.get(e.errno, str(e.errno)), **info)
                        close(sock)
                        continue
                    if not data:
                        emit(ev="eof", **info)
                        close(sock)
                        continue
                    emit(ev="data", hex=data.hex(), **info)
                    if kind == "reader" and b"URGENT" in data:
                        sock.send(b"uv", socket.MSG_OOB)
                    if kind == "reader" and b"QUIT" in data:
                        emit(ev="close", **info)
                        close(sock)
    return 0


def conn_ok(sock):
    return sock.fileno() >= 0


if __name__ == "__main__":
    sys.exit(main())
