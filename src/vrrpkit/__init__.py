"""vrrpkit: a VRRP daemon that speaks keepalived.conf and diagnoses split brain."""

__version__ = "0.1.0"
