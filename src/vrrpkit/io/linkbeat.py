"""linkbeat: ask the driver whether a link has carrier, instead of waiting for netlink to say so.

keepalived's `linkbeat_interfaces` polls with MII (the PHY's status register), ETHTOOL
(ETHTOOL_GLINK) or IOCTL (SIOCGIFFLAGS, IFF_UP and IFF_RUNNING), falling back in that order when a
driver does not answer the preferred one: some old drivers never send netlink carrier events. Each
poll is one ioctl on a throw-away datagram socket, cheap enough for once a second per interface.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import socket
import struct

from vrrpkit.io import netlink

SIOCETHTOOL = 0x8946
SIOCGMIIPHY = 0x8947
SIOCGMIIREG = 0x8948
ETHTOOL_GLINK = 0x0000000A
MII_BMSR = 0x01
BMSR_LSTATUS = 0x0004
NOT_ANSWERED = frozenset({errno.EOPNOTSUPP, errno.EINVAL, errno.ENOTTY, errno.EPERM})


def _ifr_name(ifname: str) -> bytes:
    return ifname.encode()[:15].ljust(16, b"\0")


def mii_link(sock: socket.socket, ifname: str) -> bool:
    """The PHY's link bit (BMSR); OSError when the driver has no MII."""
    ifreq = bytearray(_ifr_name(ifname) + b"\0" * 24)
    fcntl.ioctl(sock.fileno(), SIOCGMIIPHY, ifreq)  # fills mii_ioctl_data.phy_id
    phy_id = struct.unpack_from("H", ifreq, 16)[0]
    struct.pack_into("HHHH", ifreq, 16, phy_id, MII_BMSR, 0, 0)
    fcntl.ioctl(sock.fileno(), SIOCGMIIREG, ifreq)
    return bool(struct.unpack_from("H", ifreq, 22)[0] & BMSR_LSTATUS)


def ethtool_link(sock: socket.socket, ifname: str) -> bool:
    """ETHTOOL_GLINK; OSError when the driver does not implement it."""
    value = ctypes.create_string_buffer(struct.pack("II", ETHTOOL_GLINK, 0), 8)
    ifreq = bytearray(_ifr_name(ifname) + struct.pack("P", ctypes.addressof(value)) + b"\0" * 16)
    fcntl.ioctl(sock.fileno(), SIOCETHTOOL, ifreq)
    return bool(struct.unpack("II", value.raw)[1])


def carrier(ifname: str, kind: str = "") -> bool | None:
    """Is `ifname` up with carrier? MII, then ETHTOOL, then IOCTL (or from `kind` on); None if it is gone."""
    order = ("MII", "ETHTOOL", "IOCTL")
    start = order.index(kind) if kind in order else 0
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        flags = netlink.interface_flags(ifname)
        if flags is None:
            return None
        admin_up = bool(flags & 0x1)
        for method in order[start:]:
            try:
                if method == "MII":
                    return admin_up and mii_link(sock, ifname)
                if method == "ETHTOOL":
                    return admin_up and ethtool_link(sock, ifname)
            except OSError as exc:
                if exc.errno == errno.ENODEV:
                    return None
                if exc.errno not in NOT_ANSWERED:
                    raise
                continue
        return netlink.flags_up(flags)
