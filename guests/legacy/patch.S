/* patchable(): returns the immediate of its first instruction, which the boot
 * hart rewrites while another hart has the old code translated. Kept
 * uncompressed so the patch is one aligned 32-bit store. */
	.text
	.option	push
	.option	norvc
	.globl	patchable
	.balign	4
patchable:
	li	a0, 1			/* addi a0, zero, 1 = 0x00100513 */
	ret
	.option	pop
