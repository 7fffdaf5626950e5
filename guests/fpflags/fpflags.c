/* fpflags: the accrued floating-point exception flags carry from one instruction
 * to a later one, as the ISA says.
 *
 * Each round (round.S) divides by zero (DZ) on odd rounds and by three
 * (inexact, NX, unless the dividend is a multiple of three) on even ones,
 * waits a few hundred instructions with the flags set, then reads and clears
 * them. The flags each round read are folded into one checksum and counted
 * by kind: a replay that put back other flags anywhere in between (a seek
 * to a checkpoint) prints other lines (expected/fpflags.out). */
#include "lib.h"

#define ROUNDS		3000
#define FFLAGS_NX	0x01
#define FFLAGS_DZ	0x08

unsigned long fp_round(unsigned long n);

unsigned long checksum, inexact, by_zero;

int main(void)
{
	kprintf("fpflags: start\n");
	for (unsigned long n = 0; n < ROUNDS; n++) {
		unsigned long flags = fp_round(n);
		checksum = checksum * 31 + flags;
		inexact += (flags & FFLAGS_NX) != 0;
		by_zero += (flags & FFLAGS_DZ) != 0;
	}
	kprintf("fpflags: %lu rounds, %lu inexact, %lu divided by zero, checksum %lx\n",
		(unsigned long)ROUNDS, inexact, by_zero, checksum);
	return 0;
}
