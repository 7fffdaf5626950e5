/* demo: a small preemptive kernel with a data race.
 *
 * Three tasks run in S-mode, switched round-robin by the timer interrupt
 * (SBI set_timer, TICK_HZ; the registers live in the trap frame on each
 * task's stack) and by yield() (a supervisor software interrupt, sip.SSIP).
 * Producers A and B push nodes from their private pools onto `shared_list`
 * and yield when their pool is empty; consumer C pops them, checks them, hands
 * them back and yields when the list is empty.
 * Nobody takes a lock: list_push() reads shared_list.head, computes the
 * node's checksum and only then writes shared_list.head. When the timer
 * preempts a producer inside that window and the other tasks change the list
 * meanwhile, the stale write corrupts the list: typically it re-links a node
 * that C already popped and poisoned (next = LIST_POISON), and C later
 * follows that pointer and takes a load page fault: "PANIC: ...", exit code 1
 * through the sifive test device. The per-task workloads are seeded from the
 * goldfish RTC, so some runs crash and others finish cleanly after RUN_TICKS
 * timer ticks (audit ok, poweroff 0x5555).
 *
 * Debugging hint: `watch shared_list.head`, then reverse-continue from the
 * PANIC to the racy write in list_push(). */
#include "lib.h"

#ifndef TICK_HZ
#define TICK_HZ			1000		/* timer interrupts per second */
#endif
#define TICK_INTERVAL		(TIMEBASE_HZ / TICK_HZ)
#ifndef RUN_TICKS
#define RUN_TICKS		45		/* the run ends after this many ticks */
#endif
#define PROGRESS_TICKS		10		/* each task reports every 10 ticks */
#define NTASKS			3
#define NPRODUCERS		2
#define NODES_PER_PRODUCER	12
#define STACK_SIZE		4096

/* Like Linux's list_del(): a popped node's next pointer is poisoned with a
 * non-canonical address, so following it faults. */
#define LIST_POISON		((struct node *)0xdead000000000100UL)

#define barrier()		__asm__ __volatile__("" ::: "memory")

/* ------------------------------------------------------------------ */
/* The shared data structure (global, so a debugger can watch it).     */

struct node {
	struct node *next;
	uint64_t seq;			/* producer's sequence number */
	uint64_t owner;			/* producer task id */
	uint64_t payload[5];
	uint64_t checksum;		/* over seq, owner, payload */
	volatile uint64_t in_use;	/* 1 from alloc (producer) to release (consumer) */
};

struct list {
	struct node *head;
	unsigned long count;
};

struct list shared_list;
struct node node_pool[NPRODUCERS][NODES_PER_PRODUCER];

__attribute__((noinline)) uint64_t payload_checksum(const struct node *n)
{
	uint64_t h = n->seq * 0x9e3779b97f4a7c15UL ^ n->owner;
	for (int i = 0; i < 5; i++)
		h = (h ^ n->payload[i]) * 0x100000001b3UL;
	return h;
}

/* Push n on shared_list. RACY: nothing stops a task switch between the read
 * of shared_list.head and the write back. */
__attribute__((noinline)) void list_push(struct node *n)
{
	struct node *old = shared_list.head;	/* read */
	barrier();
	n->next = old;
	n->checksum = payload_checksum(n);	/* ... window ... */
	barrier();
	shared_list.head = n;			/* write (may be stale now) */
	shared_list.count++;
}

/* Pop the first node of shared_list, or NULL. Also racy. */
__attribute__((noinline)) struct node *list_pop(void)
{
	struct node *n = shared_list.head;
	if (!n)
		return NULL;
	shared_list.head = n->next;		/* faults when n is LIST_POISON */
	shared_list.count--;
	n->next = LIST_POISON;
	return n;
}

/* ------------------------------------------------------------------ */
/* Tasks                                                                */

struct task {
	struct trapframe *frame;	/* saved context while not running */
	const char *name;
	uint64_t rng;			/* xorshift state, seeded from the RTC */
	unsigned long think_base, think_spread;
	unsigned long ops, yields, bad;
	unsigned long reported;		/* tick of the last progress line */
	uint8_t stack[STACK_SIZE] __attribute__((aligned(16)));
};

static struct task tasks[NTASKS];
static unsigned current;
static volatile unsigned long ticks;
static uint64_t seed;

static uint64_t splitmix64(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15UL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9UL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebUL;
	return z ^ (z >> 31);
}

static uint64_t rand64(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

/* Busy work, ~2 instructions per iteration. */
__attribute__((noinline)) void think(unsigned long n)
{
	for (unsigned long i = 0; i < n; i++)
		barrier();
}

/* Give the CPU to the next task: raise a supervisor software interrupt,
 * which traps at once (sie.SSIE and sstatus.SIE are set in tasks). */
static void yield(struct task *t)
{
	t->yields++;
	csr_set(sip, SIE_SSIE);
}

/* Print from a task without being preempted in the middle of a line. */
static void task_printf(const char *fmt, ...)
{
	va_list ap;
	unsigned long s = csr_read(sstatus) & SSTATUS_SIE;
	csr_clear(sstatus, SSTATUS_SIE);
	va_start(ap, fmt);
	kvprintf(fmt, ap);
	va_end(ap);
	csr_set(sstatus, s);
}

static struct node *alloc_node(unsigned id, unsigned *cursor)
{
	for (unsigned i = 0; i < NODES_PER_PRODUCER; i++) {
		struct node *n = &node_pool[id][*cursor];
		*cursor = (*cursor + 1) % NODES_PER_PRODUCER;
		if (!n->in_use) {
			n->in_use = 1;
			return n;
		}
	}
	return NULL;
}

static void producer(unsigned id)
{
	struct task *t = &tasks[id];
	unsigned cursor = 0;
	task_printf("%s: producer running\n", t->name);
	for (;;) {
		struct node *n = alloc_node(id, &cursor);
		if (n) {
			n->seq = ++t->ops;
			n->owner = id;
			for (int i = 0; i < 5; i++)
				n->payload[i] = rand64(&t->rng);
			list_push(n);
		} else {
			yield(t);		/* pool empty: let C catch up */
			continue;
		}
		if (ticks - t->reported >= PROGRESS_TICKS) {
			t->reported = ticks - ticks % PROGRESS_TICKS;
			task_printf("%s: pushed %lu nodes\n", t->name, t->ops);
		}
		think(t->think_base + rand64(&t->rng) % t->think_spread);
	}
}

static void consumer(unsigned id)
{
	struct task *t = &tasks[id];
	task_printf("%s: consumer running\n", t->name);
	for (;;) {
		struct node *n = list_pop();
		if (n) {
			if (n->checksum != payload_checksum(n))
				t->bad++;
			n->in_use = 0;		/* back to its producer */
			t->ops++;
		} else {
			yield(t);		/* list empty */
			continue;
		}
		if (ticks - t->reported >= PROGRESS_TICKS) {
			t->reported = ticks - ticks % PROGRESS_TICKS;
			task_printf("%s: popped %lu nodes\n", t->name, t->ops);
		}
		think(t->think_base + rand64(&t->rng) % t->think_spread);
	}
}

static void task_entry(unsigned id)
{
	if (id < NPRODUCERS)
		producer(id);
	else
		consumer(id);
}

/* ------------------------------------------------------------------ */
/* Kernel                                                               */

static void panic(const struct trapframe *tf) __attribute__((noreturn));
static void panic(const struct trapframe *tf)
{
	kprintf("PANIC: %s in task %s: scause=0x%lx sepc=0x%lx stval=0x%lx\n",
		scause_name(tf->scause), tasks[current].name, tf->scause, tf->sepc, tf->stval);
	kprintf("PANIC: shared_list.head=%p count=%ld, tick %lu\n",
		shared_list.head, shared_list.count, ticks);
	if (tf->stval == (unsigned long)LIST_POISON)
		kprintf("PANIC: stval is LIST_POISON: the next pointer of a popped node was followed\n");
	else if (tf->stval < 4096)
		kprintf("PANIC: NULL pointer dereference\n");
	poweroff_fail(1);
}

static void audit_fail(const char *what, unsigned long v) __attribute__((noreturn));
static void audit_fail(const char *what, unsigned long v)
{
	kprintf("PANIC: shared_list corrupted: %s (%lu)\n", what, v);
	poweroff_fail(1);
}

/* Runs in the timer interrupt after RUN_TICKS ticks (tasks stopped). */
static void finish(void) __attribute__((noreturn));
static void finish(void)
{
	kprintf("demo: %u ticks, stopping the tasks\n", RUN_TICKS);
	unsigned long drained = 0, bad = 0, leaked = 0;
	struct node *n;
	while ((n = list_pop())) {		/* may fault on a corrupted list */
		if (n->checksum != payload_checksum(n))
			bad++;
		n->in_use = 0;
		if (++drained > NPRODUCERS * NODES_PER_PRODUCER)
			audit_fail("cycle in the list", drained);
	}
	for (unsigned p = 0; p < NPRODUCERS; p++)
		for (unsigned i = 0; i < NODES_PER_PRODUCER; i++)
			leaked += node_pool[p][i].in_use != 0;
	if (shared_list.count)
		audit_fail("count not zero after draining", shared_list.count);
	if (leaked)
		audit_fail("nodes lost", leaked);
	if (bad + tasks[2].bad)
		audit_fail("bad checksums", bad + tasks[2].bad);
	kprintf("demo: audit ok: A pushed %lu, B pushed %lu, C popped %lu, %lu left in the list\n",
		tasks[0].ops, tasks[1].ops, tasks[2].ops, drained);
	uart_puts("demo: no corruption this run, powering off\n");
	poweroff();
}

struct trapframe *trap_handler(struct trapframe *tf)
{
	if (tf->scause == (SCAUSE_INTR | IRQ_S_SOFT)) {	/* yield() */
		csr_clear(sip, SIE_SSIE);
	} else if (tf->scause == (SCAUSE_INTR | IRQ_S_TIMER)) {
		ticks++;
		if (ticks >= RUN_TICKS)
			finish();
		sbi_set_timer(rdtime() + TICK_INTERVAL);
	} else {
		panic(tf);
	}
	/* round robin: save this task's frame, resume the next one */
	tasks[current].frame = tf;
	current = (current + 1) % NTASKS;
	return tasks[current].frame;
}

/* Sv39: RAM as one identity gigapage, the devices as 4 KiB / 2 MiB pages.
 * Everything else (NULL, LIST_POISON, ...) faults. */
static unsigned long root_pt[512] __attribute__((aligned(4096)));
static unsigned long low_pt[512] __attribute__((aligned(4096)));	/* 0..1 GiB */
static unsigned long dev_pt[512] __attribute__((aligned(4096)));	/* 0..2 MiB */

static void setup_paging(void)
{
	const unsigned long V = 1, R = 2, W = 4, X = 8, G = 32, A = 64, D = 128;
#define PPN(pa) (((unsigned long)(pa) >> 12) << 10)
	root_pt[2] = PPN(0x80000000UL) | V | R | W | X | G | A | D;
	root_pt[0] = PPN(low_pt) | V;
	low_pt[0] = PPN(dev_pt) | V;
	dev_pt[TEST_BASE >> 12] = PPN(TEST_BASE) | V | R | W | G | A | D;
	dev_pt[RTC_BASE >> 12] = PPN(RTC_BASE) | V | R | W | G | A | D;
	low_pt[UART_BASE >> 21] = PPN(UART_BASE) | V | R | W | G | A | D;
#undef PPN
	csr_write(satp, (8UL << 60) | ((unsigned long)root_pt >> 12));
	__asm__ __volatile__("sfence.vma" ::: "memory");
}

int main(void)
{
	static const char *const names[NTASKS] = { "A", "B", "C" };

	uart_puts("demo: start\n");
	uint64_t s = seed = rtc_read_ns();
	kprintf("demo: seed 0x%016lx (goldfish RTC)\n", seed);
	setup_paging();

	for (unsigned i = 0; i < NTASKS; i++) {
		struct task *t = &tasks[i];
		t->name = names[i];
		t->rng = splitmix64(&s) | 1;
		/* producers: 2 x (600..2100 + 0..599) instructions of work per
		 * node; the consumer works about half as long per node */
		t->think_base = 300 + splitmix64(&s) % 750;
		t->think_spread = 300;
		if (i >= NPRODUCERS)
			t->think_base /= 2;
		struct trapframe *tf = (struct trapframe *)(t->stack + STACK_SIZE) - 1;
		memset(tf, 0, sizeof(*tf));
		tf->regs[2] = (unsigned long)(t->stack + STACK_SIZE);	/* sp */
		__asm__ ("mv %0, gp" : "=r"(tf->regs[3]));
		tf->regs[10] = i;						/* a0 */
		tf->sepc = (unsigned long)task_entry;
		tf->sstatus = (csr_read(sstatus) & ~SSTATUS_SIE) | SSTATUS_SPP | SSTATUS_SPIE;
		t->frame = tf;
	}
	kprintf("demo: tasks A, B (producers) and C (consumer) share shared_list without a lock\n");

	csr_set(sie, SIE_STIE | SIE_SSIE);
	sbi_set_timer(rdtime() + TICK_INTERVAL);
	current = 0;
	trap_return(tasks[0].frame);
}
