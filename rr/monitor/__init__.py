"""The virtual board: CPU, trap delivery, SBI, MMU walker, devices, FDT and image loading."""
