"""Every magic number of the board in one place.

Addresses and interrupt numbers follow QEMU's ``virt`` machine so that guests
built for ``qemu-system-riscv64 -M virt`` run unchanged; CSR numbers, causes
and status bits follow the RISC-V privileged specification.
"""

from __future__ import annotations

# --- Memory map (QEMU virt) -------------------------------------------------
RAM_BASE = 0x8000_0000
DEFAULT_RAM_SIZE = 128 * 1024 * 1024
KERNEL_LOAD_ADDR = 0x8020_0000   # where OpenSBI jumps to its payload on virt

SIFIVE_TEST_BASE = 0x0010_0000
SIFIVE_TEST_SIZE = 0x1000
RTC_BASE = 0x0010_1000
RTC_SIZE = 0x1000
PLIC_BASE = 0x0C00_0000
PLIC_SIZE = 0x0060_0000
UART0_BASE = 0x1000_0000
UART0_SIZE = 0x100
VIRTIO_BASE = 0x1000_1000
VIRTIO_STRIDE = 0x1000
VIRTIO_COUNT = 8

# --- Interrupt sources on the PLIC (QEMU virt) ------------------------------
UART0_IRQ = 10
RTC_IRQ = 11
VIRTIO_IRQ_BASE = 1              # slot n uses irq 1 + n
PLIC_NUM_SOURCES = 96            # sources 1..95; 0 means "none"
PLIC_NUM_PRIORITIES = 7
PLIC_CONTEXT_M = 0               # hart 0 M-mode context
PLIC_CONTEXT_S = 1               # hart 0 S-mode context
PLIC_NUM_CONTEXTS = 2
PLIC_CONTEXTS_PER_HART = 2       # hart h: M context 2h, S context 2h + 1 (QEMU virt)

# --- Harts (--smp) ----------------------------------------------------------
# QEMU virt takes up to 512 harts; eight is what one host thread runs usefully.
MAX_HARTS = 8
# Instructions one hart runs before the next takes its turn (run one at a time,
# round robin, on one host thread). The boundaries are absolute instruction
# counts that are multiples of the quantum, as epochs are, so the interleaving
# does not depend on where a run was stopped. Part of the board configuration.
DEFAULT_QUANTUM_INSNS = 10_000
MIN_QUANTUM_INSNS = 100
MAX_QUANTUM_INSNS = 10_000_000
# rrvm record --chaos SEED: seeds are 64-bit; --until-fail tries at most this many runs.
MAX_CHAOS_SEED = (1 << 64) - 1
MAX_CHAOS_RUNS = 100_000

# --- Clocks -----------------------------------------------------------------
TIMEBASE_HZ = 10_000_000         # the rdtime tick on virt (timebase-frequency)
# Virtual clock: the guest is modelled as a 10 MIPS machine, so one tick of
# the 10 MHz timebase is one instruction. (A slower model makes busy-wait
# loops on rdtime, each read a trap into the monitor, take fewer iterations.)
VIRTUAL_INSNS_PER_TICK = 1
# Raises of interrupt lines, console bytes and host-clock checks are applied
# only at absolute instruction counts that are multiples of the board's epoch
# (docs/unicorn-facts.md, "Interrupt timing"). It is part of the board
# configuration a trace records: a replay must use the recorded one. 100,000
# records the compute loop 10-30 % faster than 20,000 (fewer exits into the
# monitor) and a Linux boot up to 11 % faster, on both engines
# (bench/README.md, "epoch.py").
DEFAULT_EPOCH_INSNS = 100_000
# The epoch of traces whose header predates the field (it was fixed then).
UNRECORDED_EPOCH_INSNS = 20_000
# What --epoch accepts: below, each epoch's exit into the monitor dominates;
# above, console input and host-clock timers wait too long (at 10 M
# instructions a virtual second).
MIN_EPOCH_INSNS = 1_000
MAX_EPOCH_INSNS = 10_000_000
# The most bytes one watchpoint covers (gdb, the REPL and DAP alike): a
# page, more than any variable a watch is usually set on; each hit of a write
# watch keeps the range before and after (docs/watchpoints.md).
MAX_WATCH_BYTES = 4096
# The same trap taken this many times in a row without an instruction
# completing is a hart that can never go on (rr/monitor/traps.py): a fault.
STUCK_TRAPS = 16
# The trap hook offers the run loop a chance to poll every this many traps
# (a trap costs ~25 us in the monitor: about every 25 ms).
TRAP_CHECK_EVERY = 1024
# How long a run goes at most without looking at the user's Ctrl-C or a
# debugger's interrupt; and how long a live run waits for the guest to
# reach an epoch (where a quit is taken, as an input) before it stops where
# it is instead.
POLL_SECONDS = 0.1
QUIT_GRACE_SECONDS = 0.25
# The exit status of a run the user stopped (as a shell reports SIGINT).
USER_STOP_STATUS = 130

# --- Privilege levels -------------------------------------------------------
PRIV_U = 0
PRIV_S = 1
PRIV_M = 3
PRIV_NAMES = {PRIV_U: "U", PRIV_S: "S", PRIV_M: "M"}
PRIV_MODE_NAMES = {PRIV_U: "user", PRIV_S: "supervisor", PRIV_M: "machine"}

# --- Registers --------------------------------------------------------------
# ABI names of x0..x31 and f0..f31. x8 is both s0 and fp: the tables say s0,
# FP_ALIAS gives the other name (gdb's target description uses fp).
GPR_NAMES = ("zero ra sp gp tp t0 t1 t2 s0 s1 a0 a1 a2 a3 a4 a5 a6 a7 "
             "s2 s3 s4 s5 s6 s7 s8 s9 s10 s11 t3 t4 t5 t6").split()
FPR_NAMES = ("ft0 ft1 ft2 ft3 ft4 ft5 ft6 ft7 fs0 fs1 fa0 fa1 fa2 fa3 fa4 fa5 fa6 fa7 "
             "fs2 fs3 fs4 fs5 fs6 fs7 fs8 fs9 fs10 fs11 ft8 ft9 ft10 ft11").split()
FP_ALIAS = "fp"
REG_RA = 1
REG_SP = 2
REG_FP = 8

# --- CSR numbers (for decoding csr* instructions and the gdb description) ---
CSR_FFLAGS = 0x001
CSR_FRM = 0x002
CSR_FCSR = 0x003
CSR_CYCLE = 0xC00
CSR_TIME = 0xC01
CSR_STIMECMP = 0x14D         # Sstc, emulated with --sstc (rr/monitor/stimecmp.py)
CSR_INSTRET = 0xC02
CSR_SSTATUS = 0x100
CSR_SIE = 0x104
CSR_STVEC = 0x105
CSR_SCOUNTEREN = 0x106
CSR_SSCRATCH = 0x140
CSR_SEPC = 0x141
CSR_SCAUSE = 0x142
CSR_STVAL = 0x143
CSR_SIP = 0x144
CSR_SATP = 0x180
CSR_MSTATUS = 0x300
CSR_MISA = 0x301
CSR_MEDELEG = 0x302
CSR_MIDELEG = 0x303
CSR_MIE = 0x304
CSR_MIP = 0x344

# sfence.vma rs1, rs2 (any registers): the bits that make it one
INSN_SFENCE_VMA_MASK = 0xFE007FFF
INSN_SFENCE_VMA = 0x12000073

# The S-mode CSRs a kernel developer reads, by name (as rr.monitor.cpu knows
# them) and number, in the order the debuggers list them.
SUPERVISOR_CSRS = (("sstatus", CSR_SSTATUS), ("sie", CSR_SIE), ("stvec", CSR_STVEC),
                   ("sscratch", CSR_SSCRATCH), ("sepc", CSR_SEPC), ("scause", CSR_SCAUSE),
                   ("stval", CSR_STVAL), ("sip", CSR_SIP), ("satp", CSR_SATP))

# --- mstatus / sstatus bits -------------------------------------------------
SSTATUS_SIE = 1 << 1
SSTATUS_SPIE = 1 << 5
SSTATUS_SPP = 1 << 8
SSTATUS_SUM = 1 << 18
SSTATUS_MXR = 1 << 19
MSTATUS_FS = 3 << 13            # floating-point unit state; Off (0) makes the FP CSRs trap
MSTATUS_TVM = 1 << 20           # trap virtual memory: S-mode satp accesses and sfence.vma trap
MSTATUS_MPP = 3 << 11
MSTATUS_MPRV = 1 << 17
# The bits whose change makes QEMU flush its TLB (its write_mstatus): TLB entries made
# under other values do not hold.
TLB_STATUS_BITS = SSTATUS_MXR | SSTATUS_SUM | MSTATUS_MPRV | MSTATUS_MPP

# --- mip / sip bits ---------------------------------------------------------
MIP_SSIP = 1 << 1
MIP_STIP = 1 << 5
MIP_SEIP = 1 << 9
MIP_DELEGABLE = MIP_SSIP | MIP_STIP | MIP_SEIP
SIP_NAMES = {MIP_SSIP: "SSI", MIP_STIP: "STI", MIP_SEIP: "SEI"}     # the bits S-mode sees
MIDELEG_S_INTERRUPTS = MIP_DELEGABLE   # 0x222: S interrupts go natively to S

# --- Exception causes -------------------------------------------------------
CAUSE_MISALIGNED_FETCH = 0
CAUSE_FETCH_ACCESS = 1
CAUSE_ILLEGAL_INSTRUCTION = 2
CAUSE_BREAKPOINT = 3
CAUSE_MISALIGNED_LOAD = 4
CAUSE_LOAD_ACCESS = 5
CAUSE_MISALIGNED_STORE = 6
CAUSE_STORE_ACCESS = 7
CAUSE_USER_ECALL = 8
CAUSE_SUPERVISOR_ECALL = 9
CAUSE_MACHINE_ECALL = 11
CAUSE_FETCH_PAGE_FAULT = 12
CAUSE_LOAD_PAGE_FAULT = 13
CAUSE_STORE_PAGE_FAULT = 15

CAUSE_NAMES = {
    CAUSE_MISALIGNED_FETCH: "instruction address misaligned",
    CAUSE_FETCH_ACCESS: "instruction access fault",
    CAUSE_ILLEGAL_INSTRUCTION: "illegal instruction",
    CAUSE_BREAKPOINT: "breakpoint",
    CAUSE_MISALIGNED_LOAD: "load address misaligned",
    CAUSE_LOAD_ACCESS: "load access fault",
    CAUSE_MISALIGNED_STORE: "store/AMO address misaligned",
    CAUSE_STORE_ACCESS: "store/AMO access fault",
    CAUSE_USER_ECALL: "environment call from U-mode",
    CAUSE_SUPERVISOR_ECALL: "environment call from S-mode",
    CAUSE_MACHINE_ECALL: "environment call from M-mode",
    CAUSE_FETCH_PAGE_FAULT: "instruction page fault",
    CAUSE_LOAD_PAGE_FAULT: "load page fault",
    CAUSE_STORE_PAGE_FAULT: "store/AMO page fault",
}

# scause: bit 63 set for an interrupt, whose code is then an interrupt number.
CAUSE_INTERRUPT = 1 << 63
INTERRUPT_NAMES = {1: "supervisor software interrupt", 5: "supervisor timer interrupt",
                   9: "supervisor external interrupt", 3: "machine software interrupt",
                   7: "machine timer interrupt", 11: "machine external interrupt"}

# Synchronous causes the monitor hands to S-mode (what OpenSBI delegates or
# redirects on virt).
DELEGATED_EXCEPTIONS = frozenset({
    CAUSE_MISALIGNED_FETCH, CAUSE_FETCH_ACCESS, CAUSE_ILLEGAL_INSTRUCTION,
    CAUSE_BREAKPOINT, CAUSE_MISALIGNED_LOAD, CAUSE_LOAD_ACCESS,
    CAUSE_MISALIGNED_STORE, CAUSE_STORE_ACCESS, CAUSE_USER_ECALL,
    CAUSE_FETCH_PAGE_FAULT, CAUSE_LOAD_PAGE_FAULT, CAUSE_STORE_PAGE_FAULT,
})

# --- satp -------------------------------------------------------------------
SATP_MODE_SHIFT = 60
SATP_MODE_BARE = 0
SATP_MODE_SV39 = 8
SATP_MODE_SV48 = 9
SATP_MODE_SV57 = 10
SATP_PPN_MASK = (1 << 44) - 1
SATP_ASID_SHIFT = 44
SATP_ASID_MASK = 0xFFFF
SATP_MODE_NAMES = {SATP_MODE_BARE: "bare", SATP_MODE_SV39: "Sv39", SATP_MODE_SV48: "Sv48",
                   SATP_MODE_SV57: "Sv57"}
PAGE_SHIFT = 12
PAGE_SIZE = 1 << PAGE_SHIFT

# Page-table entries (Sv39/Sv48/Sv57)
PTE_V = 1 << 0
PTE_R = 1 << 1
PTE_W = 1 << 2
PTE_X = 1 << 3
PTE_U = 1 << 4
PTE_G = 1 << 5
PTE_A = 1 << 6
PTE_D = 1 << 7
PTE_FLAGS_MASK = 0x3FF          # V R W X U G A D and the two RSW bits
PTE_PPN_SHIFT = 10
PTE_PPN_MASK = (1 << 44) - 1
# Bits 63..54: reserved (60..54), Svpbmt (62..61) and Svnapot (63).  This CPU
# implements none of those extensions, so the spec makes any of them a fault.
PTE_RESERVED_MASK = ((1 << 10) - 1) << 54

PTE_SIZE = 8
VPN_BITS = 9

# --- Instruction encodings the monitor and the debuggers recognise -----------
INSN_WFI = 0x1050_0073
INSN_EBREAK = 0x0010_0073
INSN_C_EBREAK = 0x9002
INSN_SRET = 0x1020_0073
INSN_RET = 0x0000_8067          # jalr zero, 0(ra)
INSN_C_RET = 0x8082             # c.jr ra

# --- sifive,test0 -----------------------------------------------------------
SIFIVE_TEST_FAIL = 0x3333
SIFIVE_TEST_PASS = 0x5555
SIFIVE_TEST_RESET = 0x7777

# --- Unicorn internals ------------------------------------------------------
# Byte offset of uc_struct.emu_counter in the unicorn 2.1.4 x86-64 build; the
# CPU wrapper verifies it at start-up and searches nearby when it differs.
UC_EMU_COUNTER_OFFSET = 1368
UNTIL_NEVER = 0xFFFF_FFFF_FFFF_FFFF

# =============================================================================
# Device registers (appended by the devices/FDT work; one section per device)
# =============================================================================

# --- NS16550A UART (hw/char/serial.c semantics) -----------------------------
UART_REG_MASK = 0x7              # registers alias every 8 bytes in the window
UART_RBR = 0                     # read: receive buffer; write: THR; DLAB: DLL
UART_IER = 1                     # interrupt enable; DLAB: DLM
UART_IIR = 2                     # read: interrupt identification
UART_FCR = 2                     # write: FIFO control
UART_LCR = 3
UART_MCR = 4
UART_LSR = 5
UART_MSR = 6
UART_SCR = 7

UART_IER_RDI = 0x01              # received data available
UART_IER_THRI = 0x02             # transmitter holding register empty (ETBEI)
UART_IER_RLSI = 0x04             # receiver line status
UART_IER_MSI = 0x08              # modem status
UART_IER_MASK = 0x0F

UART_IIR_NO_INT = 0x01
UART_IIR_MSI = 0x00
UART_IIR_THRI = 0x02
UART_IIR_RDI = 0x04
UART_IIR_RLSI = 0x06
UART_IIR_CTI = 0x0C              # character timeout
UART_IIR_ID_MASK = 0x0F
UART_IIR_FIFO_BITS = 0xC0        # bits 7:6 read 11 when FIFOs are enabled

UART_FCR_FE = 0x01               # FIFO enable
UART_FCR_RFR = 0x02              # receive FIFO reset (self-clearing)
UART_FCR_XFR = 0x04              # transmit FIFO reset (self-clearing)
UART_FCR_DMS = 0x08              # DMA mode select
UART_FCR_STORED_MASK = 0xC9      # bits kept in the register (FE, DMS, trigger)
UART_FCR_ITL_SHIFT = 6
# Receive trigger levels selected by FCR bits 7:6.
UART_FCR_TRIGGER_LEVELS = (1, 4, 8, 14)

UART_LCR_DLAB = 0x80

UART_MCR_DTR = 0x01
UART_MCR_RTS = 0x02
UART_MCR_OUT1 = 0x04
UART_MCR_OUT2 = 0x08
UART_MCR_LOOP = 0x10
UART_MCR_MASK = 0x1F

UART_LSR_DR = 0x01
UART_LSR_OE = 0x02
UART_LSR_PE = 0x04
UART_LSR_FE = 0x08
UART_LSR_BI = 0x10
UART_LSR_THRE = 0x20
UART_LSR_TEMT = 0x40
UART_LSR_INT_ANY = UART_LSR_OE | UART_LSR_PE | UART_LSR_FE | UART_LSR_BI

UART_MSR_DCTS = 0x01
UART_MSR_DDSR = 0x02
UART_MSR_TERI = 0x04
UART_MSR_DDCD = 0x08
UART_MSR_ANY_DELTA = 0x0F
UART_MSR_CTS = 0x10
UART_MSR_DSR = 0x20
UART_MSR_RI = 0x40
UART_MSR_DCD = 0x80
# With no real modem behind it QEMU reports carrier, data set ready and clear to send.
UART_MSR_RESET = UART_MSR_DCD | UART_MSR_DSR | UART_MSR_CTS

UART_FIFO_SIZE = 16
UART_DIVISOR_RESET = 0x0C
UART_CLOCK_HZ = 3_686_400        # the clock-frequency QEMU virt advertises

# --- PLIC (sifive,plic-1.0.0 as laid out on QEMU virt) ----------------------
PLIC_PRIORITY_BASE = 0x0000      # 4 bytes per source
PLIC_PENDING_BASE = 0x1000       # one bit per source, 32 per word
PLIC_ENABLE_BASE = 0x2000
PLIC_ENABLE_STRIDE = 0x80        # per context
PLIC_CONTEXT_BASE = 0x20_0000
PLIC_CONTEXT_STRIDE = 0x1000     # per context
PLIC_THRESHOLD_OFFSET = 0x0      # within a context block
PLIC_CLAIM_OFFSET = 0x4          # within a context block (claim on read, complete on write)
PLIC_PRIORITY_MASK = 0x7         # 7 priorities: a power of two minus one, so a mask
# riscv,ndev: the highest source number. QEMU 7.2 writes 96 (its source count,
# fixed to count-1 in later releases); sources are 1..95 on this board.
PLIC_NDEV = PLIC_NUM_SOURCES - 1

# --- sifive,test0 (register offset) ------------------------------------------
SIFIVE_TEST_FINISHER = 0x0
SIFIVE_TEST_STATUS_MASK = 0xFFFF
SIFIVE_TEST_CODE_SHIFT = 16

# --- goldfish RTC ------------------------------------------------------------
RTC_TIME_LOW = 0x00
RTC_TIME_HIGH = 0x04
RTC_ALARM_LOW = 0x08
RTC_ALARM_HIGH = 0x0C
RTC_IRQ_ENABLED = 0x10
RTC_CLEAR_ALARM = 0x14
RTC_ALARM_STATUS = 0x18
RTC_CLEAR_INTERRUPT = 0x1C

# --- virtio-mmio transport (virtio 1.x "modern" register layout) -------------
VIRTIO_MMIO_MAGIC = 0x7472_6976              # "virt"
VIRTIO_MMIO_VERSION_MODERN = 2
VIRTIO_MMIO_VENDOR_QEMU = 0x554D_4551        # "QEMU"
VIRTIO_ID_NONE = 0                           # empty slot: drivers skip it
VIRTIO_MMIO_MAGIC_VALUE = 0x000
VIRTIO_MMIO_VERSION = 0x004
VIRTIO_MMIO_DEVICE_ID = 0x008
VIRTIO_MMIO_VENDOR_ID = 0x00C
VIRTIO_MMIO_DEVICE_FEATURES = 0x010
VIRTIO_MMIO_DEVICE_FEATURES_SEL = 0x014
VIRTIO_MMIO_DRIVER_FEATURES = 0x020
VIRTIO_MMIO_DRIVER_FEATURES_SEL = 0x024
VIRTIO_MMIO_QUEUE_SEL = 0x030
VIRTIO_MMIO_QUEUE_NUM_MAX = 0x034
VIRTIO_MMIO_QUEUE_NUM = 0x038
VIRTIO_MMIO_QUEUE_READY = 0x044
VIRTIO_MMIO_QUEUE_NOTIFY = 0x050
VIRTIO_MMIO_INTERRUPT_STATUS = 0x060
VIRTIO_MMIO_INTERRUPT_ACK = 0x064
VIRTIO_MMIO_STATUS = 0x070
VIRTIO_MMIO_QUEUE_DESC_LOW = 0x080
VIRTIO_MMIO_QUEUE_DESC_HIGH = 0x084
VIRTIO_MMIO_QUEUE_DRIVER_LOW = 0x090
VIRTIO_MMIO_QUEUE_DRIVER_HIGH = 0x094
VIRTIO_MMIO_QUEUE_DEVICE_LOW = 0x0A0
VIRTIO_MMIO_QUEUE_DEVICE_HIGH = 0x0A4
VIRTIO_MMIO_SHM_SEL = 0x0AC
VIRTIO_MMIO_SHM_LEN_LOW = 0x0B0
VIRTIO_MMIO_SHM_LEN_HIGH = 0x0B4
VIRTIO_MMIO_SHM_BASE_LOW = 0x0B8
VIRTIO_MMIO_SHM_BASE_HIGH = 0x0BC
VIRTIO_MMIO_QUEUE_RESET = 0x0C0
VIRTIO_MMIO_CONFIG_GENERATION = 0x0FC
VIRTIO_MMIO_CONFIG = 0x100                   # device-specific configuration space

# --- Flattened device tree ---------------------------------------------------
FDT_VERSION = 17
FDT_ROOT_ADDRESS_CELLS = 2
FDT_ROOT_SIZE_CELLS = 2
FDT_COMPATIBLE = "riscv-virtio"
FDT_MODEL = "riscv-virtio,qemu"
# No h, and sstc only when the board offers it (--sstc: the monitor emulates stimecmp,
# which this CPU does not have): docs/unicorn-facts.md, fact 21; docs/smp.md, "Timers".
FDT_CPU_ISA = "rv64imafdc_zicsr_zifencei"
FDT_CPU_ISA_SSTC = "_sstc"
FDT_CPU_MMU_TYPE = "riscv,sv48"              # what QEMU 7.2 virt advertises
# phandles as QEMU 7.2 virt numbers them: the harts from the last one down
# (cpu, then its interrupt controller), then the PLIC and the test device.
FDT_PHANDLE_CPU0 = 1
FDT_PHANDLE_CPU0_INTC = 2
FDT_PHANDLE_PLIC = 3
FDT_PHANDLE_TEST = 4
FDT_PHANDLES_PER_HART = 2
# Local interrupt numbers of the hart's interrupt controller the PLIC contexts feed.
IRQ_M_EXT = 11
IRQ_S_EXT = 9

# =============================================================================
# virtio devices: status, features, split virtqueues, block and rng
# (appended by the virtio work; virtio 1.x spec sections 2, 4.2, 5.2, 5.4)
# =============================================================================

# --- Device status bits (2.1) -------------------------------------------------
VIRTIO_STATUS_ACKNOWLEDGE = 1
VIRTIO_STATUS_DRIVER = 2
VIRTIO_STATUS_DRIVER_OK = 4
VIRTIO_STATUS_FEATURES_OK = 8
VIRTIO_STATUS_DEVICE_NEEDS_RESET = 64
VIRTIO_STATUS_FAILED = 128
VIRTIO_STATUS_MASK = 0xFF

# --- InterruptStatus / InterruptACK bits (4.2.2) ------------------------------
VIRTIO_MMIO_INT_VRING = 1            # used buffer notification
VIRTIO_MMIO_INT_CONFIG = 2           # configuration change (also: needs reset)

# --- Reserved feature bits (6) --------------------------------------------------
VIRTIO_F_INDIRECT_DESC = 28
VIRTIO_F_EVENT_IDX = 29              # never offered: notifications are not suppressed
VIRTIO_F_VERSION_1 = 32              # always offered: this transport is modern only
VIRTIO_FEATURE_WORDS = 2             # DeviceFeaturesSel / DriverFeaturesSel 0 and 1

# --- Split virtqueue layout (2.7) -------------------------------------------------
VIRTQ_DESC_F_NEXT = 1
VIRTQ_DESC_F_WRITE = 2
VIRTQ_DESC_F_INDIRECT = 4
VIRTQ_DESC_SIZE = 16                 # addr u64, len u32, flags u16, next u16
VIRTQ_AVAIL_RING = 4                 # offset of ring[] after flags u16, idx u16
VIRTQ_USED_RING = 4
VIRTQ_USED_ELEM_SIZE = 8             # id u32, len u32
VIRTQ_IDX_OFFSET = 2                 # idx field in both the avail and the used ring
VIRTQ_MAX_SIZE = 32768               # largest Queue Size the spec allows
VIRTQ_INDIRECT_MAX = 65536           # a table cannot be longer: next is a u16

# --- Device ids (5) -------------------------------------------------------------
VIRTIO_ID_BLOCK = 2
VIRTIO_ID_RNG = 4
# The names device DMA is reported under (`when`: "virtio-blk DMA").
DMA_VIRTIO_BLK = "virtio-blk"
DMA_VIRTIO_RNG = "virtio-rng"

# --- virtio-blk (5.2) -------------------------------------------------------------
VIRTIO_BLK_QUEUE_SIZE = 256
VIRTIO_BLK_SEG_MAX = VIRTIO_BLK_QUEUE_SIZE - 2   # as QEMU: header and status take two
VIRTIO_BLK_SECTOR_SIZE = 512
VIRTIO_BLK_F_SEG_MAX = 2
VIRTIO_BLK_F_RO = 5
VIRTIO_BLK_F_BLK_SIZE = 6
VIRTIO_BLK_F_FLUSH = 9
VIRTIO_BLK_T_IN = 0
VIRTIO_BLK_T_OUT = 1
VIRTIO_BLK_T_FLUSH = 4
VIRTIO_BLK_T_GET_ID = 8
VIRTIO_BLK_S_OK = 0
VIRTIO_BLK_S_IOERR = 1
VIRTIO_BLK_S_UNSUPP = 2
VIRTIO_BLK_HEADER_SIZE = 16          # type u32, reserved u32, sector u64
VIRTIO_BLK_ID_BYTES = 20
VIRTIO_BLK_ID = b"rrvm-disk"
# struct virtio_blk_config field offsets and size (up to write_zeroes_may_unmap)
VIRTIO_BLK_CFG_CAPACITY = 0x00
VIRTIO_BLK_CFG_SEG_MAX = 0x0C
VIRTIO_BLK_CFG_BLK_SIZE = 0x14
VIRTIO_BLK_CFG_NUM_QUEUES = 0x22
VIRTIO_BLK_CFG_SIZE = 0x3C

# --- virtio-rng (5.4) ---------------------------------------------------------------
VIRTIO_RNG_QUEUE_SIZE = 64
# At most this many entropy bytes per request (the device may fill less than
# offered); keeps one greedy request from bloating the trace.
VIRTIO_RNG_MAX_REQUEST = 4096
RNG_SEED_BYTES = 64             # /chosen/rng-seed with --rng, as QEMU virt gives it

# --- Disk images in traces ------------------------------------------------------------
# A trace embeds the disk image (lz4) when it is at most this big; a larger
# one is referenced by path and sha256, and replay reopens the file.
DISK_EMBED_LIMIT = 16 << 20

# --- Limits on what a run may be given and a trace may claim ----------------------------
# The command line refuses values outside them, and a trace reader refuses a
# header or event that goes past them before the board allocates anything
# (traces/FORMAT.md, "Limits"). A real recording never comes near them.
MIN_RAM_SIZE = 16 << 20
MAX_RAM_SIZE = 16 << 30
RAM_SIZE_ALIGN = 4096             # unicorn maps memory in whole pages
MAX_DTB_SIZE = 2 << 20            # the window below the top of RAM the device tree goes in
MAX_DISK_SIZE = 1 << 40
MAX_TEXT_FIELD = 4096             # a path, a name, a version, a device-tree path
MAX_BOOTARGS = 64 << 10
MAX_COMMAND_LINE_ITEMS = 4096
MAX_COMMAND_LINE_ARG = 128 << 10  # Linux's MAX_ARG_STRLEN
MAX_EVENT_BYTES = 64 << 10        # console bytes come a UART FIFO at a time, entropy 4 KiB at most
MAX_CHUNK_EVENTS = 1 << 16        # a writer closes a chunk at 4096 events by default

# --- Analyses over the whole history (rr/analysis, docs/analyses.md) --------------------
ORIGIN_DEPTH = 32                 # steps `origin` takes back unless told otherwise
ORIGIN_MAX_DEPTH = 1000

# --- The checkpoint index (TRACE.idx, docs/checkpoint-index.md) --------------------------
INDEX_EVERY = 10_000_000          # instructions between its checkpoints (the timeline's spacing)
MIN_INDEX_EVERY = 100_000         # closer checkpoints cost more to write than they save
INDEX_MAX_SIZE = 2 << 30          # a laptop keeps a 2 GiB file next to a long trace
