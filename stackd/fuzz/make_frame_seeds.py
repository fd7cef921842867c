#!/usr/bin/python3
"""Writes the seed corpus of frame_fuzzer (stackd/fuzz/corpus/frame): short
conversations with the fuzzer's stack (10.42.0.2, fd42::2, MAC
02:00:00:00:00:02; TCP 7777 echoes, UDP 9999 echoes), one per file, each
frame behind its 2-byte big-endian length. Run with Debian's python3
(scapy): /usr/bin/python3 stackd/fuzz/make_frame_seeds.py DIR"""
import os
import struct
import sys

from scapy.all import (ARP, ICMP, IP, IPv6, TCP, UDP, Ether, ICMPv6EchoRequest,
                       ICMPv6ND_NA, ICMPv6ND_NS, ICMPv6NDOptDstLLAddr,
                       ICMPv6NDOptSrcLLAddr, ICMPv6PacketTooBig, ICMPv6ND_Redirect,
                       IPv6ExtHdrDestOpt, IPv6ExtHdrFragment, IPv6ExtHdrHopByHop,
                       IPv6ExtHdrRouting, fragment, fragment6, raw)

STACK_MAC = "02:00:00:00:00:02"
PEER_MAC = "02:00:00:00:00:01"
S4, P4 = "10.42.0.2", "10.42.0.1"
S6, P6 = "fd42::2", "fd42::1"


def e(pkt, dst=STACK_MAC):
    return raw(Ether(dst=dst, src=PEER_MAC) / pkt)


def arp():
    return e(ARP(op=1, hwsrc=PEER_MAC, psrc=P4, pdst=S4), "ff:ff:ff:ff:ff:ff")


def ns():
    return e(IPv6(src=P6, dst="ff02::1:ff00:2", hlim=255) /
             ICMPv6ND_NS(tgt=S6) / ICMPv6NDOptSrcLLAddr(lladdr=PEER_MAC),
             "33:33:ff:00:00:02")


def ip4(l4, **kw):
    return e(IP(src=P4, dst=S4, **kw) / l4)


def ip6(l4, **kw):
    return e(IPv6(src=P6, dst=S6, **kw) / l4)


def conversation(frames):
    return b"".join(struct.pack(">H", len(f)) + f for f in frames)


def seeds():
    tcp4 = [arp(), ip4(TCP(sport=40000, dport=7777, flags="S", seq=100,
                           options=[("MSS", 1460), ("SAckOK", b""), ("WScale", 7),
                                    ("Timestamp", (1, 0))])),
            ip4(TCP(sport=40000, dport=7777, flags="A", seq=101, ack=1)),
            ip4(TCP(sport=40000, dport=7777, flags="PA", seq=101, ack=1) / b"hello"),
            ip4(TCP(sport=40000, dport=7777, flags="PA", seq=110, ack=1) / b"ooo"),
            ip4(TCP(sport=40000, dport=7777, flags="FA", seq=106, ack=1)),
            ip4(TCP(sport=40000, dport=7777, flags="R", seq=107))]
    yield "tcp4", tcp4
    yield "tcp6", [ns()] + [ip6(TCP(sport=40001, dport=7777, flags=f, seq=s, ack=a) / d)
                            for f, s, a, d in [("S", 5, 0, b""), ("A", 6, 1, b""),
                                               ("PA", 6, 1, b"data"), ("FA", 10, 1, b"")]]
    yield "ping4", [arp(), ip4(ICMP() / (b"x" * 64)), ip4(ICMP(type=13)),
                    ip4(ICMP() / b"rr", options=b"\x07\x07\x04\x00\x00\x00\x00\x00")]
    yield "ping6", [ns(), ip6(ICMPv6EchoRequest(data=b"y" * 64))]
    yield "udp", [arp(), ns(), ip4(UDP(sport=5000, dport=9999) / b"dgram"),
                  ip6(UDP(sport=5000, dport=9999) / b"dgram6"),
                  ip4(UDP(sport=5000, dport=9998) / b"closed")]
    yield "frag4", [arp()] + [e(f) for f in fragment(
        IP(src=P4, dst=S4) / UDP(sport=1, dport=9999) / (b"z" * 3000), fragsize=1024)]
    yield "frag6", [ns()] + [e(f) for f in fragment6(
        IPv6(src=P6, dst=S6) / IPv6ExtHdrFragment() / UDP(sport=1, dport=9999) /
        (b"w" * 3000), 1280)]
    yield "ext6", [ns(), ip6(IPv6ExtHdrHopByHop() / IPv6ExtHdrDestOpt() /
                             ICMPv6EchoRequest(data=b"e")),
                   ip6(IPv6ExtHdrRouting() / UDP(sport=2, dport=9999) / b"r")]
    yield "nd", [ns(), e(IPv6(src=P6, dst=S6, hlim=255) / ICMPv6ND_NA(tgt=P6, R=0, S=0, O=1) /
                        ICMPv6NDOptDstLLAddr(lladdr=PEER_MAC)),
                 e(IPv6(src="fe80::1", dst=S6, hlim=255) /
                   ICMPv6ND_Redirect(tgt="fe80::2", dst=P6)),
                 ip6(ICMPv6PacketTooBig(mtu=1280) / IPv6(src=S6, dst=P6) / UDP())]
    # Three SYNs fill the backlog of 2; the third gets a SYN cookie, whose
    # ACK (the fuzzer finds the cookie) makes the connection.
    yield "syn_cookie", [arp()] + [
        ip4(TCP(sport=41000 + i, dport=7777, flags="S", seq=1000 * i,
                options=[("MSS", 1460)])) for i in range(3)] + [
        ip4(TCP(sport=41002, dport=7777, flags="A", seq=2001, ack=1))]
    yield "tcp4_sack", tcp4[:3] + [
        ip4(TCP(sport=40000, dport=7777, flags="A", seq=101, ack=1,
                options=[("SAck", (1, 2))]))]


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for name, frames in seeds():
        with open(os.path.join(out, name), "wb") as f:
            f.write(conversation(frames))


if __name__ == "__main__":
    main()
