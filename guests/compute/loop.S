/* compute_loop(n): n iterations of a 64-bit LCG whose states are xor-folded
 * into a checksum. Exactly 5 instructions per iteration:
 *     x = x * 6364136223846793005 + 1442695040888963407; sum ^= x
 * Returns sum (x starts at 1, sum at 0). n must be >= 1. */
	.text
	.globl	compute_loop
	.type	compute_loop, @function
compute_loop:
	li	t1, 1				/* x */
	li	t0, 0				/* sum */
	li	t2, 6364136223846793005		/* multiplier */
	li	t3, 1442695040888963407		/* increment */
	.globl	compute_loop_body
compute_loop_body:
1:	mul	t1, t1, t2
	add	t1, t1, t3
	xor	t0, t0, t1
	addi	a0, a0, -1
	bnez	a0, 1b
	mv	a0, t0
	ret
	.size	compute_loop, . - compute_loop
