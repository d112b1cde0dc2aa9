"""Sans-I/O VRRP: codec, timers, state machine, sync groups. No sockets, clocks or randomness."""

from vrrpkit.core.config import InstanceConfig, SyncGroupConfig, Track, TrackKind, UnicastPeer, Vip
from vrrpkit.core.packet import Advertisement, DropReason, InvalidPacket, decode, encode
from vrrpkit.core.router import VirtualRouter
from vrrpkit.core.state import State
from vrrpkit.core.sync import SyncGroup

__all__ = [
    "Advertisement",
    "DropReason",
    "InstanceConfig",
    "InvalidPacket",
    "State",
    "SyncGroup",
    "SyncGroupConfig",
    "Track",
    "TrackKind",
    "UnicastPeer",
    "Vip",
    "VirtualRouter",
    "decode",
    "encode",
]
