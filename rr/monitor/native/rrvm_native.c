/*
 * rrvm's native counting engine: instruction counting per translated block
 * for unicorn 2.1.4 (RISC-V 64), loaded with ctypes.
 *
 * Built without unicorn's headers: the few types used are declared here and
 * libunicorn's functions arrive as pointers from Python at attach time. The
 * unicorn internals read (offsets into uc_struct, CPUState, CPURISCVState and
 * TranslationBlock) are listed in docs/native-engine.md; rr/monitor/native_engine.py
 * checks every one of them before the engine is used.
 *
 * Counting convention (the same as unicorn's per-instruction count hook):
 * ``raw`` is the number of instructions of the current run whose "hook ran",
 * i.e. the instructions executed plus, inside a hook, the one being executed.
 */
#include <stdint.h>
#include <stddef.h>
#include <string.h>

/* unicorn 2.1.4, x86-64 host */
#define UC_CPU 440                /* uc_struct.cpu */
#define CPU_CFLAGS_NEXT_TB 24     /* CPUState.cflags_next_tb (uint32, -1 = none) */
#define CPU_ENV_PTR 296           /* CPUState.env_ptr */
#define CPU_MEM_IO_PC 33144       /* CPUState.mem_io_pc (host pc of the last MMIO access) */
#define CPU_UC 33192              /* CPUState.uc */
#define CPU_ENV 36112             /* &RISCVCPU.env - cpu */
#define ENV_PC 512                /* CPURISCVState.pc */
#define ENV_RDTIME_FN 1528        /* CPURISCVState.rdtime_fn */
#define TB_PC 0                   /* TranslationBlock.pc */
#define TB_SIZE 20                /* TranslationBlock.size (uint16) */
#define TB_ICOUNT 22              /* TranslationBlock.icount (uint16) */
#define TB_TC_PTR 32              /* TranslationBlock.tc.ptr */
#define TB_GAP 192                /* sizeof(TranslationBlock) rounded up to the 64-byte code alignment */
#define CODE_ALIGN 64
#define TB_SEARCH_STEPS 4         /* 64-byte steps back from the hook's return address */
#define MAX_TB_INSNS 512
#define UC_HOOK_INTR 1
#define UC_HOOK_INSN_INVALID (1 << 14)
#define UC_HOOK_BLOCK (1 << 3)
#define UC_PROT_EXEC 4
#define PRIV_S 1
#define CAUSE_FETCH_MISALIGNED 0
#define CAUSE_FETCH_ACCESS 1
#define CAUSE_ILLEGAL 2
#define CAUSE_FETCH_PAGE_FAULT 12
#define CSR_TIME 0xC01
#define MAX_BLOCK_BYTES 4096
#define FAIL_BLOCK 1              /* a block's record did not validate and its code was unreadable */
#define FAIL_POSITION 2           /* the code before an instruction inside a block was unreadable */
#define FAIL_MMIO 3               /* mem_io_pc did not lead to an instruction */

typedef int (*uc_emu_stop_t)(void *uc);
typedef int (*uc_reg_read_t)(void *uc, int regid, void *value);
typedef int (*uc_reg_write2_t)(void *uc, int regid, const void *value, size_t *size);
typedef int (*uc_vmem_read_t)(void *uc, uint64_t address, int prot, void *bytes, size_t size);
typedef int (*uc_hook_add_t)(void *uc, size_t *hh, int type, void *callback, void *user_data,
                             uint64_t begin, uint64_t end, ...);
typedef _Bool (*cpu_restore_state_t)(void *cpu, uintptr_t host_pc, _Bool will_exit);
typedef void (*intr_cb_t)(void *uc, uint32_t intno, void *user);
typedef _Bool (*invalid_cb_t)(void *uc, void *user);

/* Shared with Python (ctypes mirror in native_engine.py): every field 8 bytes. */
typedef struct rrvm_engine {
    /* attach */
    uint64_t uc, cpu, env;
    uint64_t fn_emu_stop, fn_reg_read, fn_reg_write2, fn_vmem_read, fn_hook_add, fn_restore;
    uint64_t py_intr, py_invalid;       /* Python callbacks, called after the native part */
    uint64_t reg_pc, reg_priv, reg_x0;
    /* one run */
    uint64_t enabled;                   /* count blocks (0: unicorn's count hook runs) */
    uint64_t budget, raw;
    uint64_t block_pc, block_size, block_base, block_valid;
    uint64_t settled;                   /* raw is exact inside the current block */
    uint64_t frozen;                    /* a stop was requested: count nothing more */
    uint64_t count_reached;
    uint64_t failed;                    /* the run is not exact: FAIL_* says why */
    /* virtual clock: ticks = icount / insns_per_tick + tick_offset */
    uint64_t time_native, run_base, insns_per_tick, tick_offset;
    /* statistics */
    uint64_t blocks, record_misses, splits, time_reads, traps_recounted;
    /* While memory hooks are set: the current block's code, read when it is entered.
     * Reading guest memory through unicorn inside a memory hook refills the TLB
     * entry the interrupted load or store is about to use (a store then went to
     * another page's host address and crashed), so positions inside memory hooks
     * are decoded from this copy instead. */
    uint64_t keep_code, block_code_len;
    uint64_t block_code[(MAX_BLOCK_BYTES + 8) / 8];
} rrvm_engine;

uint64_t rrvm_engine_size(void) { return sizeof(rrvm_engine); }

static inline uint8_t *cpu_of(rrvm_engine *s) { return (uint8_t *)(uintptr_t)s->cpu; }
static inline uint8_t *env_of(rrvm_engine *s) { return (uint8_t *)(uintptr_t)s->env; }
static inline uint64_t env_pc(rrvm_engine *s) { return *(uint64_t *)(env_of(s) + ENV_PC); }

/* --- reading unicorn's internals (each checked by attach in Python) ------- */
uint64_t rrvm_uc_cpu(uint64_t uc) { return *(uint64_t *)((uint8_t *)(uintptr_t)uc + UC_CPU); }
uint64_t rrvm_cpu_uc(uint64_t cpu) { return *(uint64_t *)((uint8_t *)(uintptr_t)cpu + CPU_UC); }
uint64_t rrvm_cpu_env_ptr(uint64_t cpu) { return *(uint64_t *)((uint8_t *)(uintptr_t)cpu + CPU_ENV_PTR); }
uint64_t rrvm_cpu_env(uint64_t cpu) { return cpu + CPU_ENV; }
int64_t rrvm_cpu_cflags_next_tb(uint64_t cpu) { return *(int32_t *)((uint8_t *)(uintptr_t)cpu + CPU_CFLAGS_NEXT_TB); }
uint64_t rrvm_cpu_mem_io_pc(uint64_t cpu) { return *(uint64_t *)((uint8_t *)(uintptr_t)cpu + CPU_MEM_IO_PC); }
uint64_t rrvm_env_pc(uint64_t env) { return *(uint64_t *)((uint8_t *)(uintptr_t)env + ENV_PC); }
void rrvm_set_env_pc(uint64_t env, uint64_t pc) { *(uint64_t *)((uint8_t *)(uintptr_t)env + ENV_PC) = pc; }
uint64_t rrvm_env_rdtime_fn(uint64_t env) { return *(uint64_t *)((uint8_t *)(uintptr_t)env + ENV_RDTIME_FN); }

/* --- instruction lengths ---------------------------------------------------- */

/* Instructions that start in [start, end), decoded from guest memory; -1 when the
 * bytes cannot be read or the lengths do not land on ``end``. */
static int64_t count_insns(rrvm_engine *s, uint64_t start, uint64_t end)
{
    uint8_t bytes[MAX_BLOCK_BYTES + 4];
    uint64_t span = end - start, off = 0;
    int64_t n = 0;
    if (end < start || span > MAX_BLOCK_BYTES)
        return -1;
    if (span == 0)
        return 0;
    if (s->keep_code && s->block_valid && start == s->block_pc) {
        if (span > s->block_code_len)
            return -1;
        memcpy(bytes, s->block_code, (size_t)span);
    } else if (((uc_vmem_read_t)(uintptr_t)s->fn_vmem_read)((void *)(uintptr_t)s->uc, start,
                                                           UC_PROT_EXEC, bytes, (size_t)span)) {
        return -1;
    }
    while (off < span) {
        off += (bytes[off] & 3) != 3 ? 2 : 4;      /* RVC: low two bits other than 11 */
        n++;
    }
    return off == span ? n : -1;
}

/* The instruction count of the TB about to run, from its TranslationBlock record,
 * which sits TB_GAP bytes before its host code; 0 if no record validates. */
static uint64_t record_icount(uint64_t pc, uint64_t size, uintptr_t ret)
{
    uintptr_t code = ret & ~(uintptr_t)(CODE_ALIGN - 1);
    for (int step = 0; step < TB_SEARCH_STEPS; step++, code -= CODE_ALIGN) {
        const uint8_t *tb = (const uint8_t *)(code - TB_GAP);
        if (*(const uint64_t *)(tb + TB_PC) != pc || *(const uint16_t *)(tb + TB_SIZE) != size ||
            *(const uint64_t *)(tb + TB_TC_PTR) != (uint64_t)code)
            continue;
        uint64_t n = *(const uint16_t *)(tb + TB_ICOUNT);
        if (n >= 1 && n <= MAX_TB_INSNS && 2 * n <= size && size <= 4 * n)
            return n;
        if (size == 0 && n == 1)
            return n;      /* an instruction that could not be translated (it traps) */
    }
    return 0;
}

/* --- hooks -------------------------------------------------------------------- */

static void stop(rrvm_engine *s)
{
    s->frozen = 1;
    ((uc_emu_stop_t)(uintptr_t)s->fn_emu_stop)((void *)(uintptr_t)s->uc);
}

/* UC_HOOK_BLOCK: the only block hook, so unicorn calls it straight from the TB's
 * code, before the TB checks for an exit request. */
__attribute__((noinline)) static void on_block(void *uc, uint64_t pc, uint32_t size, void *user)
{
    rrvm_engine *s = user;
    uintptr_t ret = (uintptr_t)__builtin_return_address(0);
    (void)uc;
    if (!s->enabled || s->frozen)
        return;
    uint64_t n = record_icount(pc, size, ret);
    if (!n) {
        /* size 0: one instruction that could not be translated; unicorn's count
         * hook counts it too */
        int64_t decoded = size ? count_insns(s, pc, pc + size) : 1;
        s->record_misses++;
        if (decoded <= 0) {
            s->failed = FAIL_BLOCK;
            stop(s);
            return;
        }
        n = (uint64_t)decoded;
    }
    uint64_t left = s->budget - s->raw;
    if (n > left) {
        /* Not entered: stop here, or run its first ``left`` instructions as a TB of their own. */
        s->block_valid = 0;
        if (!left) {
            s->count_reached = 1;
            stop(s);
            return;
        }
        *(int32_t *)(cpu_of(s) + CPU_CFLAGS_NEXT_TB) = (int32_t)left;
        size_t width = 8;
        ((uc_reg_write2_t)(uintptr_t)s->fn_reg_write2)((void *)(uintptr_t)s->uc, (int)s->reg_pc, &pc, &width);
        s->splits++;
        return;
    }
    s->blocks++;
    s->block_pc = pc;
    s->block_size = size;
    s->block_base = s->raw;
    s->block_valid = 1;
    s->settled = 0;
    s->raw += n;
    if (s->keep_code) {
        /* At a block's start no access is in flight: a TLB refill here is harmless. */
        uint64_t len = size <= MAX_BLOCK_BYTES ? size : 0;
        if (len && ((uc_vmem_read_t)(uintptr_t)s->fn_vmem_read)((void *)(uintptr_t)s->uc, pc,
                                                                UC_PROT_EXEC, s->block_code, (size_t)len))
            len = 0;
        s->block_code_len = len;
    }
}

/* raw for the instruction at ``pc`` inside the current block (it counts as begun). */
static int position_at(rrvm_engine *s, uint64_t pc, uint64_t *raw)
{
    if (!s->block_valid || pc < s->block_pc || pc >= s->block_pc + s->block_size)
        return 0;
    int64_t j = count_insns(s, s->block_pc, pc);
    if (j < 0) {
        s->failed = FAIL_POSITION;
        return 0;
    }
    *raw = s->block_base + (uint64_t)j + 1;
    return 1;
}

static void settle_at(rrvm_engine *s, uint64_t pc)
{
    uint64_t raw;
    if (position_at(s, pc, &raw)) {
        s->raw = raw;
        s->traps_recounted++;
    }
    s->settled = 1;
}

static int time_read_rd(uint32_t insn)
{
    uint32_t funct3 = (insn >> 12) & 7;
    if ((insn & 0x7f) != 0x73 || (insn >> 20) != CSR_TIME || ((insn >> 15) & 31) != 0)
        return -1;
    if (funct3 != 2 && funct3 != 3 && funct3 != 6 && funct3 != 7)   /* csrrs/c, csrrsi/ci */
        return -1;
    return (int)((insn >> 7) & 31);
}

/* An S-mode rdtime under the virtual clock: answered here, exactly as the monitor would. */
static int answer_time(rrvm_engine *s, uint64_t epc)
{
    void *uc = (void *)(uintptr_t)s->uc;
    uint64_t priv = 0;
    uint32_t insn = 0;
    ((uc_reg_read_t)(uintptr_t)s->fn_reg_read)(uc, (int)s->reg_priv, &priv);
    if (priv != PRIV_S)
        return 0;
    if (((uc_vmem_read_t)(uintptr_t)s->fn_vmem_read)(uc, epc, UC_PROT_EXEC, &insn, 4))
        return 0;
    int rd = time_read_rd(insn);
    if (rd < 0)
        return 0;
    uint64_t icount = s->run_base + s->raw - 1;
    uint64_t ticks = icount / s->insns_per_tick + s->tick_offset;
    size_t width = 8;
    if (rd)
        ((uc_reg_write2_t)(uintptr_t)s->fn_reg_write2)(uc, (int)(s->reg_x0 + rd), &ticks, &width);
    /* Between TBs: the next one is looked up from env.pc, no TB exit needed. */
    *(uint64_t *)(env_of(s) + ENV_PC) = epc + 4;
    s->time_reads++;
    return 1;
}

/* UC_HOOK_INTR: pc is the faulting instruction + 4 (unicorn), whatever its length. */
static void on_interrupt(void *uc, uint32_t intno, void *user)
{
    rrvm_engine *s = user;
    uint64_t epc = env_pc(s) - 4;
    if (s->enabled && !s->frozen) {
        int fetch = intno == CAUSE_FETCH_MISALIGNED || intno == CAUSE_FETCH_ACCESS ||
                    intno == CAUSE_FETCH_PAGE_FAULT;
        if (fetch)
            s->settled = 1;         /* no TB ran for it: not counted, as with the count hook */
        else
            settle_at(s, epc);
        if (intno == CAUSE_ILLEGAL && s->time_native && !s->failed && answer_time(s, epc))
            return;
    }
    if (s->py_intr)
        ((intr_cb_t)(uintptr_t)s->py_intr)(uc, intno, (void *)0);
}

/* UC_HOOK_INSN_INVALID (ebreak): pc is the instruction itself. */
static _Bool on_invalid(void *uc, void *user)
{
    rrvm_engine *s = user;
    if (s->enabled && !s->frozen)
        settle_at(s, env_pc(s));
    if (s->py_invalid)
        return ((invalid_cb_t)(uintptr_t)s->py_invalid)(uc, (void *)0);
    return 0;
}

/* --- Python's entry points --------------------------------------------------- */

int rrvm_attach(rrvm_engine *s)
{
    void *uc = (void *)(uintptr_t)s->uc;
    uc_hook_add_t add = (uc_hook_add_t)(uintptr_t)s->fn_hook_add;
    size_t handle = 0;     /* the hooks live as long as the engine */
    if (add(uc, &handle, UC_HOOK_BLOCK, (void *)on_block, s, (uint64_t)1, (uint64_t)0))
        return 1;
    if (add(uc, &handle, UC_HOOK_INTR, (void *)on_interrupt, s, (uint64_t)1, (uint64_t)0))
        return 2;
    if (add(uc, &handle, UC_HOOK_INSN_INVALID, (void *)on_invalid, s, (uint64_t)1, (uint64_t)0))
        return 3;
    return 0;
}

void rrvm_begin(rrvm_engine *s, uint64_t budget, uint64_t run_base)
{
    s->budget = budget;
    s->raw = 0;
    s->run_base = run_base;
    s->block_valid = s->settled = s->frozen = s->count_reached = 0;
}

/* After emu_start returned: the exact count of the run. */
uint64_t rrvm_finish(rrvm_engine *s, int error)
{
    if (s->count_reached || s->settled || !s->block_valid)
        return s->raw;
    uint64_t pc = env_pc(s), raw;
    if (error) {
        /* a faulting access: the instruction at pc counts as begun */
        if (position_at(s, pc, &raw))
            s->raw = raw;
    } else if (pc > s->block_pc && position_at(s, pc, &raw)) {
        /* halted (wfi) mid-block: pc is after the last executed instruction */
        s->raw = raw - 1;
    }
    return s->raw;
}

/* raw inside a hook; ``mmio``: called from an MMIO callback, where only
 * mem_io_pc says which instruction is accessing. */
uint64_t rrvm_hook_raw(rrvm_engine *s, int mmio)
{
    uint64_t pc, raw;
    if (s->settled || s->frozen || !s->block_valid)
        return s->raw;
    if (mmio) {
        uint64_t host_pc = *(uint64_t *)(cpu_of(s) + CPU_MEM_IO_PC);
        if (!host_pc || !((cpu_restore_state_t)(uintptr_t)s->fn_restore)(cpu_of(s), (uintptr_t)host_pc, 0)) {
            s->failed = FAIL_MMIO;
            return s->raw;
        }
    }
    pc = env_pc(s);
    return position_at(s, pc, &raw) ? raw : s->raw;
}

/* Stop the run from a hook, at the instruction being executed. */
void rrvm_stop(rrvm_engine *s, int mmio)
{
    if (s->enabled && !s->frozen) {
        s->raw = rrvm_hook_raw(s, mmio);
        s->settled = 1;
    }
    stop(s);
}
