/* fp_round(n): one round of fpflags.c, returning the flags it read.
 * Assembled for rv64imafdc (the other guests have no FPU code); the FPU is on,
 * as OpenSBI and rrvm leave it. */
#define WAIT	300

	.option	arch, +d
	.text
	.globl	fp_round
fp_round:
	fcvt.d.lu	f1, a0
	andi	t0, a0, 1
	li	t1, 3
	beqz	t0, 1f
	li	t1, 0				/* odd rounds: divide by zero */
1:	fcvt.d.lu	f2, t1
	fdiv.d	f3, f1, f2			/* sets DZ, or NX when inexact */
	li	t2, WAIT
2:	addi	t2, t2, -1			/* the flags stay set meanwhile */
	bnez	t2, 2b
	frflags	a0
	fsflags	zero
	ret
	.size	fp_round, . - fp_round
