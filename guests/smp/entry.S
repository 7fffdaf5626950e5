/* Where a hart started with SBI HSM hart_start enters: S-mode, MMU off,
 * a0 = its hart id, a1 = the opaque value hart_start passed (here the top of
 * its stack). .bss is already cleared by the boot hart. */
	.text
	.globl	secondary_entry
	.balign	4
secondary_entry:
	csrw	sie, zero
	csrw	sscratch, zero
	mv	sp, a1
	la	t0, trap_entry
	csrw	stvec, t0
	call	secondary_main
1:	wfi
	j	1b
