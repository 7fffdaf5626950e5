/* Fallback compute guest for bench/speed.py, used only when guests/bin/compute.elf
 * is missing. Same contract as guests/compute: the 8-byte data symbol
 * `iterations` holds the loop count (speed.py patches it in the ELF), the loop
 * body is exactly 5 instructions, the checksum is printed in hex on the UART at
 * 0x10000000 and the guest powers off through the sifive test device (0x5555
 * to 0x100000). Build:
 *   riscv64-unknown-elf-gcc -nostdlib -march=rv64imac -mabi=lp64 \
 *       -Ttext=0x80200000 -Wl,-N -Wl,--no-warn-rwx-segments -o compute.elf compute.S
 */
	.text
	.globl	_start
_start:
	la	a1, msg_start
	call	puts
	la	t0, iterations
	ld	a0, 0(t0)
	li	t1, 1				/* x */
	li	t0, 0				/* sum */
	beqz	a0, 2f
	li	t2, 6364136223846793005		/* multiplier */
	li	t3, 1442695040888963407		/* increment */
1:	mul	t1, t1, t2			/* the 5-instruction body */
	add	t1, t1, t3
	xor	t0, t0, t1
	addi	a0, a0, -1
	bnez	a0, 1b
2:	mv	s0, t0
	la	a1, msg_sum
	call	puts
	li	s1, 60				/* 16 hex digits, most significant first */
3:	srl	a0, s0, s1
	andi	a0, a0, 15
	la	t0, hexdigits
	add	t0, t0, a0
	lbu	a0, 0(t0)
	call	putc
	addi	s1, s1, -4
	bgez	s1, 3b
	la	a1, msg_done
	call	puts
	li	t0, 0x100000			/* sifive test: pass = power off */
	li	t1, 0x5555
	sw	t1, 0(t0)
4:	wfi
	j	4b

/* putc(a0): wait for THR empty (LSR bit 5), then write. Clobbers t5, t6. */
putc:
	li	t6, 0x10000000
5:	lbu	t5, 5(t6)
	andi	t5, t5, 0x20
	beqz	t5, 5b
	sb	a0, 0(t6)
	ret

/* puts(a1): NUL-terminated string. */
puts:
	mv	s2, ra
6:	lbu	a0, 0(a1)
	beqz	a0, 7f
	call	putc
	addi	a1, a1, 1
	j	6b
7:	mv	ra, s2
	ret

	.section .rodata
hexdigits:	.ascii	"0123456789abcdef"
msg_start:	.asciz	"compute: start\n"
msg_sum:	.asciz	"compute: checksum=0x"
msg_done:	.asciz	"\ncompute: done\n"

	.data
	.balign	8
	.globl	iterations
iterations:	.dword	100000000
