/* virtio: a polled-setup, interrupt-completed driver for the virtio-mmio
 * (version 2) devices QEMU virt and rrvm put in the highest slots: a
 * virtio-blk (read sector 0, read/increment/write a boot counter in sector
 * 1 and read it back, a read past the end) and a virtio-rng (two requests
 * of 32 bytes). Every request is waited for in wfi until the PLIC interrupt
 * of its device's slot arrives. Devices that are missing are reported and
 * skipped. Output is identical on QEMU (-global virtio-mmio.force-legacy=false)
 * and rrvm given the same disk. */
#include "lib.h"

#define VIRTIO_BASE		0x10001000UL
#define VIRTIO_STRIDE		0x1000UL
#define VIRTIO_SLOTS		8
#define VIRTIO_IRQ(slot)	(1 + (slot))

/* virtio-mmio registers (virtio 1.x, 4.2.2) */
#define VM_MAGIC		0x000
#define VM_VERSION		0x004
#define VM_DEVICE_ID		0x008
#define VM_DEVICE_FEATURES	0x010
#define VM_DEVICE_FEATURES_SEL	0x014
#define VM_DRIVER_FEATURES	0x020
#define VM_DRIVER_FEATURES_SEL	0x024
#define VM_QUEUE_SEL		0x030
#define VM_QUEUE_NUM_MAX	0x034
#define VM_QUEUE_NUM		0x038
#define VM_QUEUE_READY		0x044
#define VM_QUEUE_NOTIFY		0x050
#define VM_INTERRUPT_STATUS	0x060
#define VM_INTERRUPT_ACK	0x064
#define VM_STATUS		0x070
#define VM_QUEUE_DESC_LOW	0x080
#define VM_QUEUE_DESC_HIGH	0x084
#define VM_QUEUE_DRIVER_LOW	0x090
#define VM_QUEUE_DRIVER_HIGH	0x094
#define VM_QUEUE_DEVICE_LOW	0x0a0
#define VM_QUEUE_DEVICE_HIGH	0x0a4
#define VM_CONFIG		0x100

#define VIRTIO_MAGIC		0x74726976	/* "virt" */
#define ST_ACKNOWLEDGE		1
#define ST_DRIVER		2
#define ST_DRIVER_OK		4
#define ST_FEATURES_OK		8
#define ST_NEEDS_RESET		64
#define INT_VRING		1
#define F_VERSION_1_HIGH	(1u << 0)	/* feature bit 32 */

#define ID_BLOCK		2
#define ID_RNG			4

#define QSIZE			8
#define DESC_F_NEXT		1
#define DESC_F_WRITE		2

#define SECTOR			512
#define BLK_T_IN		0
#define BLK_T_OUT		1
#define BLK_S_OK		0

#define RNG_BYTES		32
#define BOOT_MAGIC		0x43425252u	/* "RRBC" */

struct virtq_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

struct virtq_avail {
	uint16_t flags;
	uint16_t idx;
	uint16_t ring[QSIZE];
	uint16_t used_event;
};

struct virtq_used_elem {
	uint32_t id;
	uint32_t len;
};

struct virtq_used {
	uint16_t flags;
	uint16_t idx;
	struct virtq_used_elem ring[QSIZE];
	uint16_t avail_event;
};

struct vdev {
	const char *name;
	unsigned long base;		/* 0: not found */
	unsigned slot;
	struct virtq_desc desc[QSIZE] __attribute__((aligned(16)));
	struct virtq_avail avail __attribute__((aligned(2)));
	struct virtq_used used __attribute__((aligned(4)));
	uint16_t used_seen;		/* used.idx as far as the driver consumed it */
	unsigned requests;
	volatile unsigned interrupts;	/* used-buffer interrupts taken */
};

struct blk_req {
	uint32_t type;
	uint32_t reserved;
	uint64_t sector;
};

static struct vdev blk = { .name = "virtio-blk" };
static struct vdev rng = { .name = "virtio-rng" };
static struct blk_req req;
static volatile uint8_t req_status;
static uint8_t sector_buf[SECTOR] __attribute__((aligned(16)));
static uint8_t write_buf[SECTOR] __attribute__((aligned(16)));
static uint8_t rng_buf[2][RNG_BYTES] __attribute__((aligned(16)));

static uint32_t r32(struct vdev *d, unsigned off) { return mmio_read32(d->base + off); }
static void w32(struct vdev *d, unsigned off, uint32_t v) { mmio_write32(d->base + off, v); }

static void fail(const char *what)
{
	kprintf("virtio: FAILED: %s\n", what);
	poweroff_fail(1);
}

struct trapframe *trap_handler(struct trapframe *tf)
{
	if (tf->scause == (SCAUSE_INTR | IRQ_S_EXT)) {
		uint32_t irq = mmio_read32(PLIC_SCLAIM);
		struct vdev *devs[] = { &blk, &rng };
		int known = 0;
		for (unsigned i = 0; i < 2; i++) {
			struct vdev *d = devs[i];
			if (!d->base || irq != VIRTIO_IRQ(d->slot))
				continue;
			uint32_t status = r32(d, VM_INTERRUPT_STATUS);
			w32(d, VM_INTERRUPT_ACK, status);
			if (status & INT_VRING)
				d->interrupts++;
			known = 1;
		}
		if (irq && !known)
			kprintf("virtio: unexpected PLIC source %u\n", irq);
		if (irq)
			mmio_write32(PLIC_SCLAIM, irq);	/* complete */
		return tf;
	}
	kprintf("virtio: unexpected trap: %s scause=0x%lx sepc=0x%lx stval=0x%lx\n",
		scause_name(tf->scause), tf->scause, tf->sepc, tf->stval);
	poweroff_fail(2);
}

/* ---------------- discovery and setup ---------------- */

static void find_devices(void)
{
	for (int slot = VIRTIO_SLOTS - 1; slot >= 0; slot--) {
		unsigned long base = VIRTIO_BASE + (unsigned long)slot * VIRTIO_STRIDE;
		if (mmio_read32(base + VM_MAGIC) != VIRTIO_MAGIC)
			fail("bad magic value in a virtio-mmio slot");
		uint32_t id = mmio_read32(base + VM_DEVICE_ID);
		if (!id)
			continue;
		uint32_t version = mmio_read32(base + VM_VERSION);
		struct vdev *d = id == ID_BLOCK ? &blk : id == ID_RNG ? &rng : 0;
		kprintf("virtio: slot %d (irq %d): device %u%s%s, version %u\n", slot,
			VIRTIO_IRQ(slot), id, d ? ", " : "", d ? d->name : "", version);
		if (version != 2)
			fail("not a modern (version 2) virtio-mmio transport");
		if (d && !d->base) {
			d->base = base;
			d->slot = (unsigned)slot;
		}
	}
}

static void set_status(struct vdev *d, uint32_t bits)
{
	w32(d, VM_STATUS, r32(d, VM_STATUS) | bits);
}

static void setup(struct vdev *d)
{
	w32(d, VM_STATUS, 0);				/* reset */
	set_status(d, ST_ACKNOWLEDGE);
	set_status(d, ST_DRIVER);
	w32(d, VM_DEVICE_FEATURES_SEL, 1);
	if (!(r32(d, VM_DEVICE_FEATURES) & F_VERSION_1_HIGH))
		fail("VIRTIO_F_VERSION_1 not offered");
	w32(d, VM_DRIVER_FEATURES_SEL, 0);
	w32(d, VM_DRIVER_FEATURES, 0);
	w32(d, VM_DRIVER_FEATURES_SEL, 1);
	w32(d, VM_DRIVER_FEATURES, F_VERSION_1_HIGH);	/* nothing but VERSION_1 */
	set_status(d, ST_FEATURES_OK);
	if (!(r32(d, VM_STATUS) & ST_FEATURES_OK))
		fail("FEATURES_OK refused");

	w32(d, VM_QUEUE_SEL, 0);
	if (r32(d, VM_QUEUE_READY))
		fail("queue 0 already live");
	if (r32(d, VM_QUEUE_NUM_MAX) < QSIZE)
		fail("queue 0 too small");
	w32(d, VM_QUEUE_NUM, QSIZE);
	unsigned long desc = (unsigned long)d->desc, avail = (unsigned long)&d->avail,
		      used = (unsigned long)&d->used;
	w32(d, VM_QUEUE_DESC_LOW, (uint32_t)desc);
	w32(d, VM_QUEUE_DESC_HIGH, (uint32_t)(desc >> 32));
	w32(d, VM_QUEUE_DRIVER_LOW, (uint32_t)avail);
	w32(d, VM_QUEUE_DRIVER_HIGH, (uint32_t)(avail >> 32));
	w32(d, VM_QUEUE_DEVICE_LOW, (uint32_t)used);
	w32(d, VM_QUEUE_DEVICE_HIGH, (uint32_t)(used >> 32));
	w32(d, VM_QUEUE_READY, 1);
	set_status(d, ST_DRIVER_OK);

	/* its interrupt: priority 1, enabled for hart 0 S-mode */
	mmio_write32(PLIC_PRIORITY(VIRTIO_IRQ(d->slot)), 1);
	mmio_write32(PLIC_SENABLE, mmio_read32(PLIC_SENABLE) | 1u << VIRTIO_IRQ(d->slot));
}

/* ---------------- requests ---------------- */

static void set_desc(struct vdev *d, unsigned i, void *addr, uint32_t len, uint16_t flags)
{
	d->desc[i].addr = (unsigned long)addr;
	d->desc[i].len = len;
	d->desc[i].flags = flags;
	d->desc[i].next = (uint16_t)(i + 1);
}

/* Make the chain at descriptor 0 available, notify, sleep until its
 * interrupt; returns the used length. */
static uint32_t submit_and_wait(struct vdev *d)
{
	unsigned seen = d->interrupts;
	d->avail.ring[d->avail.idx % QSIZE] = 0;
	__sync_synchronize();
	d->avail.idx++;
	__sync_synchronize();
	w32(d, VM_QUEUE_NOTIFY, 0);
	d->requests++;
	for (;;) {
		csr_clear(sstatus, SSTATUS_SIE);
		if (d->interrupts != seen)
			break;
		wfi();				/* wakes on the pending interrupt ... */
		csr_set(sstatus, SSTATUS_SIE);	/* ... taken here */
	}
	csr_set(sstatus, SSTATUS_SIE);
	__sync_synchronize();
	if (*(volatile uint16_t *)&d->used.idx != (uint16_t)(d->used_seen + 1))
		fail("interrupt without exactly one used buffer");
	if (r32(d, VM_STATUS) & ST_NEEDS_RESET)
		fail("device needs a reset");
	struct virtq_used_elem e = d->used.ring[d->used_seen % QSIZE];
	d->used_seen++;
	if (e.id != 0)
		fail("used buffer with another head");
	return e.len;
}

static uint8_t blk_rw(uint32_t type, uint64_t sector, uint8_t *buf, uint32_t *used_len)
{
	req.type = type;
	req.reserved = 0;
	req.sector = sector;
	req_status = 0xff;
	set_desc(&blk, 0, &req, sizeof(req), DESC_F_NEXT);
	set_desc(&blk, 1, buf, SECTOR, DESC_F_NEXT | (type == BLK_T_IN ? DESC_F_WRITE : 0));
	set_desc(&blk, 2, (void *)&req_status, 1, DESC_F_WRITE);
	*used_len = submit_and_wait(&blk);
	return req_status;
}

static uint32_t load32(const uint8_t *p)
{
	return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void store32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void test_blk(void)
{
	uint32_t len;
	uint64_t capacity = r32(&blk, VM_CONFIG) | (uint64_t)r32(&blk, VM_CONFIG + 4) << 32;
	kprintf("virtio-blk: capacity %lu sectors\n", (unsigned long)capacity);

	if (blk_rw(BLK_T_IN, 0, sector_buf, &len) != BLK_S_OK)
		fail("reading sector 0");
	char text[80];
	unsigned n = 0;
	while (n < sizeof(text) - 1 && sector_buf[n] >= ' ' && sector_buf[n] < 0x7f) {
		text[n] = (char)sector_buf[n];
		n++;
	}
	text[n] = 0;
	kprintf("virtio-blk: sector 0 (used len %u): \"%s\"\n", len, text);

	if (blk_rw(BLK_T_IN, 1, sector_buf, &len) != BLK_S_OK)
		fail("reading sector 1");
	uint32_t boots = load32(sector_buf) == BOOT_MAGIC ? load32(sector_buf + 4) : 0;
	store32(write_buf, BOOT_MAGIC);
	store32(write_buf + 4, boots + 1);
	for (unsigned i = 8; i < SECTOR; i++)
		write_buf[i] = (uint8_t)(i * 7 + boots);
	if (blk_rw(BLK_T_OUT, 1, write_buf, &len) != BLK_S_OK)
		fail("writing sector 1");
	kprintf("virtio-blk: boot count %u -> %u (write used len %u)\n", boots, boots + 1, len);

	memset(sector_buf, 0, SECTOR);
	if (blk_rw(BLK_T_IN, 1, sector_buf, &len) != BLK_S_OK)
		fail("reading sector 1 back");
	for (unsigned i = 0; i < SECTOR; i++)
		if (sector_buf[i] != write_buf[i])
			fail("sector 1 read back differs from what was written");
	kprintf("virtio-blk: sector 1 read back ok\n");

	uint8_t status = blk_rw(BLK_T_IN, capacity, sector_buf, &len);
	kprintf("virtio-blk: read at sector %lu (past the end): status %u, used len %u\n",
		(unsigned long)capacity, status, len);
	kprintf("virtio-blk: %u requests, %u interrupts on PLIC source %u\n",
		blk.requests, blk.interrupts, VIRTIO_IRQ(blk.slot));
}

static void test_rng(void)
{
	uint32_t len[2];
	for (int i = 0; i < 2; i++) {
		set_desc(&rng, 0, rng_buf[i], RNG_BYTES, DESC_F_WRITE);
		len[i] = submit_and_wait(&rng);
	}
	int zero = 1, same = 1;
	for (unsigned i = 0; i < RNG_BYTES; i++) {
		zero &= !rng_buf[0][i];
		same &= rng_buf[0][i] == rng_buf[1][i];
	}
	kprintf("virtio-rng: 2 requests of %u bytes, used len %u and %u, %s, %s\n", RNG_BYTES,
		len[0], len[1], zero ? "all zero" : "not all zero", same ? "the same" : "different");
	kprintf("virtio-rng: %u interrupts on PLIC source %u\n", rng.interrupts,
		VIRTIO_IRQ(rng.slot));
}

int main(void)
{
	uart_puts("virtio: start\n");
	find_devices();

	mmio_write32(PLIC_STHRESHOLD, 0);
	csr_set(sie, SIE_SEIE);
	csr_set(sstatus, SSTATUS_SIE);

	if (blk.base) {
		setup(&blk);
		test_blk();
	} else {
		uart_puts("virtio: no virtio-blk device\n");
	}
	if (rng.base) {
		setup(&rng);
		test_rng();
	} else {
		uart_puts("virtio: no virtio-rng device\n");
	}
	uart_puts("virtio: done\n");
	poweroff();
}
