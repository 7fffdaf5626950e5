/* smp: harts racing on an unlocked counter (the SMP demo).
 *
 * The boot hart counts the harts (SBI HSM hart_get_status), starts the others
 * with hart_start, and each hart reports in turn. Then every hart adds
 * RACE_ROUNDS to two shared counters: `total` with an atomic add, `counter`
 * with a plain load, some work, and a store. The plain update is a race:
 * when a hart is preempted between its load and its store while another hart
 * updates the counter, one hart's store overwrites the other's updates and
 * `counter` ends below `total`. The boot hart then prints "smp: RACE: lost N
 * updates" and fails (exit 1 through the sifive test device); otherwise
 * "smp: counter ok". The racing phase is short, so a hart usually finishes
 * it before its turn ends and the race rarely shows: it takes a scheduler
 * that switches harts at unusual places (rrvm record --chaos) to hit it.
 *
 * Afterwards the boot hart sends an IPI to all others (SBI IPI with a hart
 * mask), each wakes from wfi, reports it in turn and stops (hart_stop); the
 * boot hart waits until HSM says they are all stopped and powers off.
 *
 * Debugging hint: `watch counter`, then reverse-continue from the RACE line
 * to the stale store in race(). */
#include "lib.h"

#define MAX_HARTS	8
#define RACE_ROUNDS	40
#define STACK_SIZE	4096
#define SBI_EXT_IPI	0x735049
#define SBI_EXT_HSM	0x48534D
#define HSM_STARTED	0
#define HSM_STOPPED	1

void secondary_entry(void);

static uint8_t stacks[MAX_HARTS][STACK_SIZE] __attribute__((aligned(16)));
static unsigned long nharts;
static volatile unsigned long turn;		/* whose turn it is to print */
static volatile unsigned long go;		/* the race starts */
static volatile unsigned long finished;		/* harts done racing (atomic) */
unsigned long total;				/* atomic updates */
volatile unsigned long counter;			/* racy updates */
static volatile unsigned long work_sink;

static void wait_turn(unsigned long hart)
{
	while (turn != hart)
		;
}

static void next_turn(void)
{
	__atomic_fetch_add(&turn, 1, __ATOMIC_SEQ_CST);
}

/* One hart's share of the race: the plain read-modify-write of `counter`
 * has a window between its load and its store. */
static void race(unsigned long hart)
{
	for (unsigned long i = 0; i < RACE_ROUNDS; i++) {
		unsigned long seen = counter;
		for (unsigned long k = 0; k < 3; k++)
			work_sink += k ^ hart;
		counter = seen + 1;
		__atomic_fetch_add(&total, 1, __ATOMIC_SEQ_CST);
	}
	__atomic_fetch_add(&finished, 1, __ATOMIC_SEQ_CST);
}

static long hart_status(unsigned long hart)
{
	struct sbiret r = sbi_ecall(SBI_EXT_HSM, 2, (long)hart, 0, 0);
	return r.error ? -1 : r.value;
}

void secondary_main(unsigned long hart)
{
	wait_turn(hart);
	kprintf("smp: hart %lu up\n", hart);
	next_turn();
	while (!go)
		;
	race(hart);
	/* Wait for the boot hart's IPI: pending and enabled in sie wakes wfi. */
	csr_set(sie, SIE_SSIE);
	while (!(csr_read(sip) & (1UL << IRQ_S_SOFT)))
		wfi();
	csr_clear(sip, 1UL << IRQ_S_SOFT);
	wait_turn(nharts + hart);
	kprintf("smp: hart %lu got the IPI\n", hart);
	next_turn();
	sbi_ecall(SBI_EXT_HSM, 1, 0, 0, 0);	/* hart_stop: does not return */
	kprintf("smp: hart %lu did not stop\n", hart);
	poweroff_fail(2);
}

int main(unsigned long boot_hart)
{
	kprintf("smp: start\n");
	while (nharts < MAX_HARTS && hart_status(nharts) >= 0)
		nharts++;
	kprintf("smp: %lu harts\n", nharts);
	if (boot_hart != 0) {
		kprintf("smp: booted on hart %lu, expected hart 0\n", boot_hart);
		poweroff_fail(3);
	}
	for (unsigned long h = 1; h < nharts; h++) {
		struct sbiret r = sbi_ecall(SBI_EXT_HSM, 0, (long)h, (long)secondary_entry,
					    (long)(stacks[h] + STACK_SIZE));
		if (r.error) {
			kprintf("smp: hart_start(%lu) failed: %ld\n", h, r.error);
			poweroff_fail(4);
		}
	}
	struct sbiret again = sbi_ecall(SBI_EXT_HSM, 0, 0, (long)secondary_entry, 0);
	kprintf("smp: hart_start(0) again: error %ld\n", again.error);
	kprintf("smp: hart 0 up\n");
	next_turn();
	wait_turn(nharts);
	go = 1;
	race(0);
	while (finished != nharts)
		;
	kprintf("smp: atomic total %lu (expected %lu)\n", total, nharts * RACE_ROUNDS);
	if (counter != total) {
		kprintf("smp: RACE: lost %lu updates\n", total - counter);
		poweroff_fail(1);
	}
	kprintf("smp: counter ok\n");
	next_turn();				/* turn nharts + 1: hart 1 reports the IPI */
	if (nharts > 1) {
		struct sbiret r = sbi_ecall(SBI_EXT_IPI, 0, (long)(((1UL << nharts) - 1) & ~1UL), 0, 0);
		if (r.error)
			kprintf("smp: send_ipi failed: %ld\n", r.error);
	}
	wait_turn(2 * nharts);
	for (unsigned long h = 1; h < nharts; h++)
		while (hart_status(h) != HSM_STOPPED)
			;
	kprintf("smp: all other harts stopped; hart 0 is %s\n",
		hart_status(0) == HSM_STARTED ? "started" : "not started");
	return 0;
}
