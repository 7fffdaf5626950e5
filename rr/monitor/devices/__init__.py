"""Memory-mapped devices of the board, at QEMU virt's addresses."""
