/* Common entry point. OpenSBI (QEMU) and rrvm both enter here in S-mode
 * with a0 = hart id and a1 = device-tree address. */
	.section .text.start, "ax"
	.globl _start
_start:
	csrw	sie, zero
	csrw	sscratch, zero		/* 0 = "trap came from S-mode" (see trap.S) */
	la	sp, __stack_top
	/* clear .bss (8-byte aligned bounds); a0/a1 are preserved */
	la	t0, __bss_start
	la	t1, __bss_end
1:	bgeu	t0, t1, 2f
	sd	zero, 0(t0)
	addi	t0, t0, 8
	j	1b
2:	la	t0, trap_entry
	csrw	stvec, t0
	call	main
	call	poweroff		/* main returned: power off */
3:	wfi
	j	3b

	/* boot stack, placed at the end of .bss (section .stack) by the linker script */
	.section .stack, "aw", @nobits
	.balign 16
	.space	16384
