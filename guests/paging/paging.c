/* paging: a tiny Sv39 kernel. It identity-maps itself (a 1 GiB page) and the
 * devices, maps a user program at USER_VA, and runs it in U-mode. The user
 * program makes write syscalls, touches unmapped pages (demand paging: the
 * handler checks stval against the address decoded from the faulting
 * instruction, maps a page and retries), runs two illegal instructions and two
 * breakpoints (4-byte and compressed; each reported and skipped) and exits
 * with a syscall. The kernel prints a summary and powers off. */
#include "lib.h"

#define PAGE_SIZE	4096UL
#define PTE_V	(1UL << 0)
#define PTE_R	(1UL << 1)
#define PTE_W	(1UL << 2)
#define PTE_X	(1UL << 3)
#define PTE_U	(1UL << 4)
#define PTE_G	(1UL << 5)
#define PTE_A	(1UL << 6)
#define PTE_D	(1UL << 7)
#define PTE_PPN(pa)	(((unsigned long)(pa) >> 12) << 10)
#define PTE_PA(pte)	(((pte) >> 10) << 12)
#define SATP_SV39	(8UL << 60)

#define USER_VA		0x400000UL	/* user program (text + rodata) */
#define USER_STACK_VA	0x7ff000UL	/* one stack page, top at 0x800000 */
#define DEMAND_LO	0x800000UL	/* [DEMAND_LO, DEMAND_HI) is mapped on first touch */
#define DEMAND_HI	0x900000UL

#define SYS_WRITE	64
#define SYS_EXIT	93

typedef unsigned long pte_t;

static pte_t root_pt[512] __attribute__((aligned(4096)));	/* level 2 */
static pte_t low_pt[512] __attribute__((aligned(4096)));	/* level 1: VA 0..1 GiB */
static uint8_t page_pool[8][PAGE_SIZE] __attribute__((aligned(4096)));
static unsigned pages_used;

extern char user_start[], user_end[], user_entry[];
extern char user_store_fault[], user_load_fault[], user_illegal32[],
	user_illegal16[], user_ebreak32[], user_ebreak16[];

static struct {
	unsigned long syscalls, page_faults, illegal, breakpoints;
} stats;

/* kernel stack for traps from U-mode; the first user frame sits at its top */
static uint8_t kstack[8192] __attribute__((aligned(16)));

static void *alloc_page(void)
{
	if (pages_used == sizeof(page_pool) / PAGE_SIZE) {
		uart_puts("kernel: out of pages\n");
		poweroff_fail(4);
	}
	return page_pool[pages_used++];		/* .bss: already zero */
}

/* Map one 4 KiB page in the Sv39 tables, allocating a level-0 table if
 * needed. Only VAs below 1 GiB (root_pt[0] = low_pt) are used here. */
static void map_page(unsigned long va, unsigned long pa, unsigned long flags)
{
	pte_t *l1 = &low_pt[(va >> 21) & 511];
	if (!(*l1 & PTE_V))
		*l1 = PTE_PPN(alloc_page()) | PTE_V;
	pte_t *l0 = (pte_t *)PTE_PA(*l1);
	l0[(va >> 12) & 511] = PTE_PPN(pa) | flags | PTE_V | PTE_A | PTE_D;
}

/* Name of a user trap site, from the labels in user.S. */
static const char *user_label(unsigned long va)
{
	static const struct { char *sym; const char *name; } labels[] = {
		{ user_store_fault, "user_store_fault" },
		{ user_load_fault, "user_load_fault" },
		{ user_illegal32, "user_illegal32" },
		{ user_illegal16, "user_illegal16" },
		{ user_ebreak32, "user_ebreak32" },
		{ user_ebreak16, "user_ebreak16" },
	};
	for (unsigned i = 0; i < sizeof(labels) / sizeof(labels[0]); i++)
		if (va == USER_VA + (unsigned long)(labels[i].sym - user_start))
			return labels[i].name;
	return "?";
}

/* Read the instruction at user address va (sstatus.SUM lets S-mode read U
 * pages). Returns the bits (16 for a compressed instruction) and its length. */
static uint32_t fetch_user_insn(unsigned long va, unsigned *len)
{
	csr_set(sstatus, SSTATUS_SUM);
	uint32_t insn = *(volatile uint16_t *)va;
	if ((insn & 3) == 3) {
		insn |= (uint32_t)*(volatile uint16_t *)(va + 2) << 16;
		*len = 4;
	} else {
		*len = 2;
	}
	csr_clear(sstatus, SSTATUS_SUM);
	return insn;
}

static long sext(unsigned long v, int bits)
{
	return (long)(v << (64 - bits)) >> (64 - bits);
}

/* Effective address of a load/store (the subset the user program uses: any
 * 32-bit load/store, c.lw, c.ld, c.sw, c.sd). Returns 0 if unknown. */
static int decode_mem_addr(const struct trapframe *tf, uint32_t insn, unsigned long *addr)
{
	if ((insn & 3) == 3) {
		unsigned op = insn & 0x7f, rs1 = (insn >> 15) & 31;
		long imm;
		if (op == 0x03)				/* LOAD */
			imm = sext(insn >> 20, 12);
		else if (op == 0x23)			/* STORE */
			imm = sext(((insn >> 25) << 5) | ((insn >> 7) & 31), 12);
		else
			return 0;
		*addr = (rs1 ? tf->regs[rs1] : 0) + imm;
		return 1;
	}
	unsigned quad = insn & 3, f3 = (insn >> 13) & 7;
	unsigned rs1 = 8 + ((insn >> 7) & 7);
	unsigned long off;
	if (quad != 0)
		return 0;
	if (f3 == 2 || f3 == 6)			/* c.lw, c.sw */
		off = (((insn >> 10) & 7) << 3) | (((insn >> 6) & 1) << 2) | (((insn >> 5) & 1) << 6);
	else if (f3 == 3 || f3 == 7)		/* c.ld, c.sd */
		off = (((insn >> 10) & 7) << 3) | (((insn >> 5) & 3) << 6);
	else
		return 0;
	*addr = tf->regs[rs1] + off;
	return 1;
}

static void fatal(const struct trapframe *tf, const char *why)
{
	kprintf("kernel: FATAL (%s): %s scause=0x%lx sepc=0x%lx stval=0x%lx\n", why,
		scause_name(tf->scause), tf->scause, tf->sepc, tf->stval);
	poweroff_fail(1);
}

static void do_syscall(struct trapframe *tf)
{
	stats.syscalls++;
	tf->sepc += 4;
	switch (tf->regs[17]) {			/* a7 */
	case SYS_WRITE: {
		const char *buf = (const char *)tf->regs[10];
		unsigned long len = tf->regs[11];
		csr_set(sstatus, SSTATUS_SUM);
		for (unsigned long i = 0; i < len; i++)
			uart_putc(buf[i]);
		csr_clear(sstatus, SSTATUS_SUM);
		tf->regs[10] = len;
		break;
	}
	case SYS_EXIT:
		kprintf("kernel: user exit(%lu)\n", tf->regs[10]);
		kprintf("kernel: summary: syscalls=%lu page_faults=%lu illegal=%lu breakpoints=%lu\n",
			stats.syscalls, stats.page_faults, stats.illegal, stats.breakpoints);
		if (tf->regs[10] != 0 || stats.page_faults != 2 || stats.illegal != 2 ||
		    stats.breakpoints != 2)
			poweroff_fail(1);
		uart_puts("paging: done\n");
		poweroff();
	default:
		kprintf("kernel: unknown syscall %lu\n", tf->regs[17]);
		tf->regs[10] = (unsigned long)-38;	/* -ENOSYS */
	}
}

static void do_page_fault(struct trapframe *tf)
{
	unsigned len;
	unsigned long addr, va = tf->stval;
	const char *kind = tf->scause == 12 ? "instruction" : tf->scause == 13 ? "load" : "store";

	if (va < DEMAND_LO || va >= DEMAND_HI || tf->scause == 12)
		fatal(tf, "bad user address");
	uint32_t insn = fetch_user_insn(tf->sepc, &len);
	if (!decode_mem_addr(tf, insn, &addr))
		fatal(tf, "cannot decode the faulting instruction");
	kprintf(len == 4 ? "kernel: %s page fault scause=%lu stval=0x%lx at %s (insn 0x%08x, %u bytes)\n"
			 : "kernel: %s page fault scause=%lu stval=0x%lx at %s (insn 0x%04x, %u bytes)\n",
		kind, tf->scause, va, user_label(tf->sepc), insn, len);
	if (addr != va) {
		kprintf("kernel: ERROR: decoded address 0x%lx != stval\n", addr);
		fatal(tf, "stval mismatch");
	}
	stats.page_faults++;
	map_page(va & ~(PAGE_SIZE - 1), (unsigned long)alloc_page(), PTE_R | PTE_W | PTE_U);
	__asm__ __volatile__("sfence.vma" ::: "memory");
	kprintf("kernel: stval matches the decoded address; mapped page 0x%lx, retrying\n",
		va & ~(PAGE_SIZE - 1));
	/* sepc unchanged: the instruction runs again */
}

struct trapframe *trap_handler(struct trapframe *tf)
{
	unsigned len;
	uint32_t insn;

	if (tf->sstatus & SSTATUS_SPP)
		fatal(tf, "trap from S-mode");
	switch (tf->scause) {
	case 8:					/* ecall from U */
		do_syscall(tf);
		break;
	case 12: case 13: case 15:
		do_page_fault(tf);
		break;
	case 2:					/* illegal instruction */
		stats.illegal++;
		insn = fetch_user_insn(tf->sepc, &len);
		kprintf("kernel: illegal instruction scause=2 stval=0x%lx at %s (%u bytes)%s, skipped\n",
			tf->stval, user_label(tf->sepc), len,
			tf->stval == insn ? "" : " [stval != instruction bits]");
		tf->sepc += len;
		break;
	case 3:					/* breakpoint */
		stats.breakpoints++;
		insn = fetch_user_insn(tf->sepc, &len);
		kprintf("kernel: breakpoint scause=3 at %s, sepc=USER_VA+0x%lx, %s (%u bytes), skipped\n",
			user_label(tf->sepc), tf->sepc - USER_VA,
			insn == 0x00100073 ? "ebreak" : insn == 0x9002 ? "c.ebreak" : "?", len);
		tf->sepc += len;
		break;
	default:
		fatal(tf, "unexpected trap");
	}
	return tf;
}

int main(void)
{
	uart_puts("paging: start\n");

	/* kernel: 1 GiB identity page at 0x80000000 (RAM), not user-accessible */
	root_pt[2] = PTE_PPN(0x80000000UL) | PTE_V | PTE_R | PTE_W | PTE_X | PTE_G | PTE_A | PTE_D;
	/* low 1 GiB through low_pt: devices as 2 MiB pages, user pages as 4 KiB */
	root_pt[0] = PTE_PPN(low_pt) | PTE_V;
	low_pt[0] = PTE_PPN(0) | PTE_V | PTE_R | PTE_W | PTE_G | PTE_A | PTE_D;	/* test, RTC */
	low_pt[UART_BASE >> 21] = PTE_PPN(UART_BASE) | PTE_V | PTE_R | PTE_W | PTE_G | PTE_A | PTE_D;
	for (char *p = user_start; p < user_end; p += PAGE_SIZE)
		map_page(USER_VA + (unsigned long)(p - user_start), (unsigned long)p,
			 PTE_R | PTE_X | PTE_U);
	map_page(USER_STACK_VA, (unsigned long)alloc_page(), PTE_R | PTE_W | PTE_U);

	csr_write(satp, SATP_SV39 | ((unsigned long)root_pt >> 12));
	__asm__ __volatile__("sfence.vma" ::: "memory");
	kprintf("kernel: Sv39 on; user program mapped at 0x%lx (%lu page), stack at 0x%lx\n",
		USER_VA, (unsigned long)(user_end - user_start) / PAGE_SIZE, USER_STACK_VA);

	/* enter U-mode: build the first user frame at the top of the kernel stack */
	struct trapframe *tf = (struct trapframe *)(kstack + sizeof(kstack)) - 1;
	memset(tf, 0, sizeof(*tf));
	tf->sepc = USER_VA + (unsigned long)(user_entry - user_start);
	tf->regs[2] = USER_STACK_VA + PAGE_SIZE;
	tf->sstatus = csr_read(sstatus) & ~(SSTATUS_SPP | SSTATUS_SIE | SSTATUS_SPIE | SSTATUS_SUM);
	kprintf("kernel: entering U-mode at 0x%lx\n", tf->sepc);
	trap_return(tf);
}
