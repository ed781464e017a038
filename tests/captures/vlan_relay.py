#!/usr/bin/python3
"""Userspace 802.1Q trunk for make_captures.sh's http_vlan.pcap.

This kernel has no CONFIG_VLAN_8021Q (`ip link add ... type vlan` fails: "Unknown device type")
and no bridge VLAN filtering or tc vlan action, so the tagging is done here, in the middle
namespace, with AF_PACKET raw sockets:

    client ns veth0 ── veth1 [tag 100] trunk0 ══ trunk1 [untag] veth2 ── veth3 server ns
                                        ^ captured here: every frame on the trunk carries 802.1Q

Frames the client sends arrive on veth1 and leave on trunk0 with the tag inserted; arriving on
trunk1 they leave on veth2 untagged; the way back is the mirror image. (The kernel may hand a
received frame over with its tag already moved to metadata: untagging copes with both.)
Offloads must be off on the end interfaces (ethtool -K ... tx off tso off gso off) so every
frame is MTU-sized with its checksum filled in.

Usage: vlan_relay.py VID   (runs until killed)
"""
import select
import socket
import struct
import sys

VID = int(sys.argv[1])
ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
TAG = struct.pack("!HH", 0x8100, VID)


def sock(ifname):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.bind((ifname, 0))
    return s


def tag(frame):
    return frame[:12] + TAG + frame[12:]


def untag(frame):
    if frame[12:14] == b"\x81\x00":
        return frame[:12] + frame[16:]
    return frame


socks = {name: sock(name) for name in ("veth1", "trunk0", "trunk1", "veth2")}
# (in, out, transform)
routes = {"veth1": ("trunk0", tag), "trunk0": ("veth1", untag),
          "trunk1": ("veth2", untag), "veth2": ("trunk1", tag)}
by_fd = {s.fileno(): name for name, s in socks.items()}
print("vlan_relay: up", flush=True)
while True:
    ready, _, _ = select.select(list(socks.values()), [], [])
    for s in ready:
        frame, addr = s.recvfrom(65535)
        if addr[2] == PACKET_OUTGOING:
            continue  # our own transmissions, seen on the way out
        out, fn = routes[by_fd[s.fileno()]]
        socks[out].send(fn(frame))
