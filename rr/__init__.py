"""rrvm: a whole-system record/replay hypervisor for RISC-V 64 guests."""

__version__ = "0.1.0"
