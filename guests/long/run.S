/* long_run(rounds, per_round, where, mul, inc): `rounds` rounds of `per_round`
 * iterations of a 64-bit LCG folded into a checksum, the round number written
 * to *where after each round. Returns the checksum.
 *
 * Instruction counts, from the entry e (the first instruction, at index e):
 *   3 set-up instructions, then per round: 1 (mv) + 5 * per_round (the loop)
 *   + 1 (addi) + 1 (sd, the write) + 1 (bne);
 * so the write of round k (0-based; it stores k + 1) is the instruction at
 *   e + 3 + k * (4 + 5 * per_round) + 1 + 5 * per_round + 1
 *   = e + 5 + 5 * per_round + k * (4 + 5 * per_round).
 * tests/replay/test_long_trace.py relies on this. */
	.text
	.globl	long_run
	.type	long_run, @function
long_run:
	li	t1, 1				/* x */
	li	t0, 0				/* checksum */
	li	t4, 0				/* rounds done */
2:	mv	t5, a1
1:	mul	t1, t1, a3
	add	t1, t1, a4
	xor	t0, t0, t1
	addi	t5, t5, -1
	bnez	t5, 1b
	addi	t4, t4, 1
	.globl	long_run_write
long_run_write:
	sd	t4, 0(a2)			/* the watched write */
	bne	t4, a0, 2b
	mv	a0, t0
	ret
	.size	long_run, . - long_run
