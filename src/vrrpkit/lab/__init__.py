"""Network-namespace lab: hosts on one switch, a multicast-eating "cloud", faults, real daemons.

Everything a lab makes carries its name and lives outside the root namespace; `cleanup_leftovers`
removes it all, also after the process that built it was killed.
"""

from vrrpkit.lab.cleanup import cleanup_leftovers, list_labs
from vrrpkit.lab.lab import Lab
from vrrpkit.lab.observe import Capture
from vrrpkit.lab.pcap import Frame, read_pcap
from vrrpkit.lab.process import LabProcess, wait_until
from vrrpkit.lab.state import run_dir
from vrrpkit.lab.system import LabError

__all__ = [
    "Capture",
    "Frame",
    "Lab",
    "LabError",
    "LabProcess",
    "cleanup_leftovers",
    "list_labs",
    "read_pcap",
    "run_dir",
    "wait_until",
]
