/* The U-mode program of the paging guest. It is linked inside the kernel
 * image (one page, section .user) but runs at virtual address USER_VA
 * (0x400000), so it only uses pc-relative addressing.
 *
 * Syscalls: a7 = number, a0.. = arguments, a0 = result.
 *   SYS_WRITE 64: a0 = buffer, a1 = length
 *   SYS_EXIT  93: a0 = exit code
 * Labels marked .globl are looked up by the kernel to name trap sites. */
#define SYS_WRITE 64
#define SYS_EXIT  93
#define DEMAND_VA 0x800000	/* not mapped until the first touch */

	.section .user, "ax"
	.option	norelax			/* keep the page layout fixed at assembly time */
	.balign	4096
	.globl	user_start, user_end
	.globl	user_entry, user_store_fault, user_load_fault
	.globl	user_illegal32, user_illegal16, user_ebreak32, user_ebreak16

	.macro	print msg, len
	lla	a0, \msg
	li	a1, \len
	li	a7, SYS_WRITE
	ecall
	.endm

user_start:
/* messages first: li needs their lengths defined before use */
msg_hello:	.ascii	"user: hello from U-mode via the write syscall\n"
	.equ	msg_hello_len, . - msg_hello
msg_mem:	.ascii	"user: demand-paged memory ok\n"
	.equ	msg_mem_len, . - msg_mem
msg_ill:	.ascii	"user: survived two illegal instructions\n"
	.equ	msg_ill_len, . - msg_ill
msg_brk:	.ascii	"user: survived two breakpoints\n"
	.equ	msg_brk_len, . - msg_brk
msg_fail:	.ascii	"user: FAILED memory check\n"
	.equ	msg_fail_len, . - msg_fail


	.balign	4
user_entry:
	print	msg_hello, msg_hello_len

	/* 4-byte store to an unmapped page: store page fault, stval 0x800010 */
	li	t0, DEMAND_VA
	li	t1, 0x1234abcd
user_store_fault:
	sd	t1, 16(t0)
	/* compressed load from another unmapped page: load page fault,
	 * stval 0x801008 (x8..x15 operands so that it assembles to c.ld) */
	li	s1, DEMAND_VA + 0x1000
	li	a5, -1
	.option	push
	.option	rvc
user_load_fault:
	c.ld	a5, 8(s1)
	.option	pop
	ld	t2, 16(t0)
	bne	t2, t1, user_fail		/* the store must be visible */
	bnez	a5, user_fail			/* a fresh page reads zero */
	print	msg_mem, msg_mem_len

	/* illegal instructions: the kernel reports and skips them */
user_illegal32:
	.word	0xc0001073			/* unimp = csrrw x0, cycle, x0 */
user_illegal16:
	.half	0x0000				/* c.unimp */
	print	msg_ill, msg_ill_len

	/* breakpoints of both lengths: the kernel reports and skips them */
user_ebreak32:
	.option	push
	.option	norvc
	ebreak
	.option	pop
user_ebreak16:
	.half	0x9002				/* c.ebreak */
	print	msg_brk, msg_brk_len

	li	a0, 0
	li	a7, SYS_EXIT
	ecall
1:	j	1b

user_fail:
	print	msg_fail, msg_fail_len
	li	a0, 1
	li	a7, SYS_EXIT
	ecall
2:	j	2b

	.balign	4096
user_end:
