/* types: locals of every kind of C type, for tests/dap/test_dap.py. show()
 * fills them (volatile: they live in its stack frame) and calls seen() on the
 * line marked LOCALS SET; the test stops there and compares what rrvm dap
 * shows with gdb-multiarch's `info locals` and the values below. Built by
 * the test with guests/common, as guests/Makefile builds our guests. */
#include "lib.h"

enum colour { RED, GREEN = 5, BLUE };

struct point {
	int x;
	unsigned char tag;
	_Bool ok;
	enum colour c;
	const char *name;
	short pair[2];
};

__attribute__((noinline)) void seen(void)
{
	__asm__ __volatile__("" ::: "memory");
}

__attribute__((noinline)) void show(void)
{
	volatile signed char sc = -5;
	volatile char letter = 'r';
	volatile char newline = '\n';
	volatile short s = -300;
	volatile unsigned short us = 65000;
	volatile int i = -123456;
	volatile unsigned u = 4000000000u;
	volatile long l = -5000000000L;
	volatile unsigned long ul = 18000000000000000000UL;
	volatile _Bool yes = 1;
	volatile enum colour c = GREEN;
	volatile enum colour odd = (enum colour)7;
	volatile struct point p = { -7, 'z', 1, BLUE, "origin", { -1, 2 } };
	const char *volatile text = "hello";
	volatile int zeros[12] = { 4 };
	volatile char word[16] = "rrvm";
	volatile char empty[300] = "";	/* longer than gdb's 200 print elements */
	struct point *volatile at = (struct point *)&p;
	const int folded = 42;		/* no storage: DWARF gives its value */
	seen();	/* LOCALS SET */
}

int main(void)
{
	show();
	uart_puts("types: done\n");
	poweroff();
}
