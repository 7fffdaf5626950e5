/* The path of the value (see flow.c); each numbered line is one step of it,
 * as rrvm origin walks it back from `outbox` (tests/analysis/test_origin.py).
 * No compressed instructions, so the instructions are exactly these. */
#define UART_BASE	0x10000000
#define UART_LSR	5
#define UART_LSR_DR	1
#define KEY		0x100
#define MAX_POLLS	10000000	/* no input: give up and send 0 */

	.option	norvc
	.text
	.globl	run_flow
run_flow:
	addi	sp, sp, -16
	sd	ra, 8(sp)
	li	t0, UART_BASE
	li	t4, MAX_POLLS
1:	lbu	t1, UART_LSR(t0)
	andi	t1, t1, UART_LSR_DR
	bnez	t1, 2f
	addi	t4, t4, -1
	bnez	t4, 1b
2:	lbu	a0, 0(t0)		/* (1) the console byte, from the UART's RBR */
	la	t2, inbox
	sd	a0, 0(t2)		/* (2) to memory: inbox */
	call	add_key			/* (3) a call */
	call	through_trap		/* (4) a trap */
	la	t2, outbox
	sd	a0, 0(t2)		/* (5) to memory: outbox */
	ld	ra, 8(sp)
	addi	sp, sp, 16
	ret

	.globl	add_key
add_key:				/* a0 = inbox + KEY */
	la	t3, inbox
	ld	a1, 0(t3)		/* (3a) loaded from inbox */
	addi	a0, a1, KEY		/* (3b) computed from a1 */
	ret

	.globl	through_trap
through_trap:				/* a0 = a0, kept in s2 across an ebreak */
	addi	sp, sp, -16
	sd	s2, 0(sp)
	mv	s2, a0			/* (4a) into s2 */
	ebreak				/* (4b) trap_entry saves s2, trap_return restores it */
	mv	a0, s2			/* (4c) back into a0 */
	ld	s2, 0(sp)
	addi	sp, sp, 16
	ret
