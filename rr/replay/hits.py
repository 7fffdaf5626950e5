"""Breakpoints and watchpoints while history is re-executed: where they were hit.

Hooks only note the instruction count of a hit (exact, from unicorn's
counter) and may pause the run; the timeline then moves to that position by
replaying to it, so nothing depends on where unicorn happened to stop. A
write hook also notes what it saw (the pc, the instruction, the watched range
before the store and the value stored), so the questions about writes need
no seek per write.

Watchpoints are given on virtual addresses (the default) or on physical ones.
Unicorn reports *physical* addresses to memory hooks (docs/unicorn-facts.md,
fact 17), so a virtual watch is hooked at its current physical translation
and follows the guest's address spaces (docs/watchpoints.md):

- it is translated again whenever the guest writes satp or runs sfence.vma
  (rr/monitor/address_spaces.py makes those trap while a virtual watch is
  set); the run then stops after that instruction, so the new hooks apply
  from the next one;
- a hook on the physical range fires for any mapping of that memory, so the
  virtual address of the access is recomputed from the instruction (rs1 +
  offset) and an access through another mapping (an alias) is not a hit;
- while the address is unmapped nothing is hooked and nothing can hit;
- on several harts, each hart's own satp places the watch in that hart's
  engine: an access hits through the address space of the hart making it.

A ``Probe`` reads values at each hit, in the hook (the registers and memory
as they are at the hit), and the hit keeps them (``Hit.values``). Unlike a
``condition`` (a callable of the process that runs the hook), a probe is
plain data that evaluates itself, so a search split by segment
(rr/replay/segments.py) sends it to its workers and gets the values back
with the hits.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import partial
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Callable, Iterable, Protocol

from unicorn import UC_HOOK_CODE, UC_HOOK_MEM_READ, UC_HOOK_MEM_WRITE, UC_MEM_WRITE

from rr.errors import RrError
from rr.monitor import mmu
from rr.monitor.address_spaces import AddressSpaces
from rr.monitor.constants import MAX_WATCH_BYTES
from rr.monitor.guest_memory import GuestMemory
from rr.monitor.insn_decode import effective_address

if TYPE_CHECKING:
    from rr.monitor.board import Board

MAX_ACCESS = 16          # widest access that can overlap a watched range from below
ADDRESS_LIMIT = 1 << 64


class WatchRangeError(RrError):
    """A watch over a range no watch may cover (docs/watchpoints.md, "How much one watch covers")."""


def check_watch_range(address: int, length: int) -> None:
    """Raise WatchRangeError unless [address, address + length) is a range a watch may cover.

    Every watch is built here (REPL, gdb stub, DAP, the history queries): each hit
    of a write watch keeps the range before and after the store, so its length
    bounds what a search holds per hit and the hooks it places."""
    if not 1 <= length <= MAX_WATCH_BYTES:
        raise WatchRangeError(f"cannot watch {length} bytes at {address:#x}: a watch covers "
                              f"1 to {MAX_WATCH_BYTES} bytes")
    if not 0 <= address <= ADDRESS_LIMIT - length:
        raise WatchRangeError(f"cannot watch {length} bytes at {address:#x}: the range "
                              "leaves the 64-bit address space")


class WatchKind(StrEnum):
    """Which accesses a watchpoint stops on."""

    WRITE = "write"
    READ = "read"
    ACCESS = "access"            # either


class WatchSpace(StrEnum):
    """Which addresses a watchpoint names."""

    VIRTUAL = "virtual"          # the address in whatever address space is current
    PHYSICAL = "physical"        # the memory itself, through any mapping


class HitKind(StrEnum):
    """What happened at a hit."""

    BREAKPOINT = "breakpoint"    # the instruction at the address is about to execute
    WRITE = "write"              # the instruction writes the address
    READ = "read"                # the instruction reads it


_HOOK_TYPES = {WatchKind.WRITE: UC_HOOK_MEM_WRITE, WatchKind.READ: UC_HOOK_MEM_READ,
               WatchKind.ACCESS: UC_HOOK_MEM_READ | UC_HOOK_MEM_WRITE}


@dataclass(frozen=True, order=True)
class Watchpoint:
    address: int
    length: int = 1
    kind: WatchKind = WatchKind.WRITE
    space: WatchSpace = WatchSpace.VIRTUAL

    def __post_init__(self) -> None:
        check_watch_range(self.address, self.length)
        object.__setattr__(self, "kind", WatchKind(self.kind))     # "write" works too
        object.__setattr__(self, "space", WatchSpace(self.space))

    @property
    def physical(self) -> bool:
        return self.space is WatchSpace.PHYSICAL

    def catches(self, access: HitKind) -> bool:
        """Does a read or write ``access`` in the range stop here?"""
        return self.kind is WatchKind.ACCESS or self.kind.value == access.value


@dataclass(frozen=True)
class WatchedPiece:
    """The part of a watchpoint inside one page, at its physical address."""

    paddr: int
    vaddr: int
    length: int
    watch: Watchpoint


@dataclass(frozen=True)
class Store:
    """What a write hook saw, before the store."""

    pc: int
    instruction: bytes | None    # the instruction's bytes (None: unreadable)
    old: bytes | None            # the watched range before and after (None: part unmapped)
    new: bytes | None
    device: str | None = None    # a device's DMA (e.g. "virtio-blk") made during the
                                 # instruction at pc, rather than the instruction itself


class Probe(Protocol):
    """Values read at each hit, in the hook: a picklable value (it goes to workers)."""

    def read(self, board: Board) -> tuple[Any, ...]: ...


@dataclass(frozen=True, order=True)
class Hit:
    icount: int          # the instruction that hit, before it executes
    kind: HitKind
    address: int         # the pc for a breakpoint, the data address for a watchpoint
    watch: Watchpoint | None = None
    store: Store | None = field(default=None, compare=False)   # writes only
    hart: int = field(default=0, compare=False)     # the hart that executed it
    values: tuple[Any, ...] | None = field(default=None, compare=False)   # the probe's


class HitCollector:
    """Hooks for a set of breakpoints and watchpoints, noting hits after ``after``."""

    def __init__(self, board: Board, breakpoints: Iterable[int],
                 watchpoints: Iterable[Watchpoint],
                 after: int, on_hit: Callable[[Hit], None] | None = None,
                 condition: Callable[[Hit], bool] | None = None,
                 dma: bool = False, probe: Probe | None = None) -> None:
        """``condition``: only hits it accepts count; it runs in the hook, with the
        registers as they are at the hit (e.g. to require a stack pointer). ``probe``:
        what each hit that counts keeps in ``Hit.values``, read there too. ``dma``:
        device writes into the watched bytes are write hits too (``Store.device``);
        a debugger's watchpoints leave them out, as hardware and QEMU's do."""
        self.board = board
        # The harts' one engine gets the hooks: a breakpoint fires on any hart. In a
        # hook, the hart executing is the board's current one (only it runs).
        self.uc = board.hart_engine.uc
        self.after = after
        self.on_hit = on_hit
        self.condition = condition
        self.probe = probe
        self.hits: list[Hit] = []
        self.watches = sorted(set(watchpoints))
        self._code_handles = [self.uc.hook_add(UC_HOOK_CODE, self._on_code, begin=pc, end=pc)
                              for pc in set(breakpoints)]
        # Each hart follows its own address space (its satp): a virtual watch is hooked
        # where each hart's translation puts it, and counts only for that hart.
        # (type, begin, end) -> the hook's handle
        self._hooked: dict[tuple[int, int, int], int] = {}
        self._pieces: list[list[WatchedPiece]] = [[] for _ in board.harts]
        self._moved_to: list[list[WatchedPiece] | None] = [None for _ in board.harts]
        for hart in board.harts:
            self._place(hart.index, translate_watchpoints(hart.memory, self.watches))
        self._follows = any(not watch.physical for watch in self.watches)
        self._listeners: list[tuple[AddressSpaces, Callable[[], bool]]] = []
        for hart in board.harts if self._follows else ():
            listener = partial(self._address_space_changed, hart.index)
            hart.address_spaces.listen(listener, partial(self._settle, hart.index))
            self._listeners.append((hart.address_spaces, listener))
        self._dma = dma and any(watch.catches(HitKind.WRITE) for watch in self.watches)
        if self._dma:
            board.device_writes.listen(self._on_dma)
        self._invalidate_caches()          # hooks do not apply to code translated before them

    @property
    def cpu(self):
        """The hart that runs (or ran last)."""
        return self.board.cpu

    def _invalidate_caches(self) -> None:
        self.board.cpu.invalidate_caches()      # the code of every hart: they share it

    def remove(self) -> None:
        for spaces, listener in self._listeners:
            spaces.unlisten(listener)
        self._listeners = []
        if self._dma:
            self.board.device_writes.unlisten(self._on_dma)
            self._dma = False
        for handle in (*self._code_handles, *self._hooked.values()):
            self.uc.hook_del(handle)
        self._code_handles, self._hooked = [], {}
        self.board.cpu.memory_hooks_set(False)
        self._invalidate_caches()

    # --- following the address space ----------------------------------------
    def _place(self, hart: int, pieces: list[WatchedPiece]) -> None:
        """Hook the watches at ``pieces`` of ``hart`` (outside any run). Hooks of ranges
        the watches left stay until ``remove`` (deleting hooks between runs crashed the
        native engine); ``_on_memory`` only counts accesses to the current pieces of
        the hart that runs."""
        for piece in pieces:
            key = (_HOOK_TYPES[piece.watch.kind], max(0, piece.paddr - MAX_ACCESS + 1),
                   piece.paddr + piece.length - 1)
            if key not in self._hooked:
                self._hooked[key] = self.uc.hook_add(key[0], self._on_memory, begin=key[1],
                                                     end=key[2])
        self._pieces[hart] = pieces
        self.board.cpu.memory_hooks_set(bool(self._hooked))

    def _address_space_changed(self, hart: int) -> bool:
        """Hart ``hart``'s satp or TLB changed (a satp write or sfence.vma emulated in its
        trap hook, between instructions, or an HSM start): True when its watches moved,
        so its run stops and ``_settle`` moves the hooks before its next instruction."""
        pieces = translate_watchpoints(self.board.harts[hart].memory, self.watches)
        moved = self._moved_to[hart]
        if pieces == (self._pieces[hart] if moved is None else moved):
            return False
        self._moved_to[hart] = pieces
        return True

    def _settle(self, hart: int) -> None:
        moved = self._moved_to[hart]
        if moved is not None:
            self._place(hart, moved)
            self._moved_to[hart] = None
            self._invalidate_caches()       # hooks do not apply to code translated before

    # --- hooks --------------------------------------------------------------
    def _note(self, hit: Hit) -> None:
        if self.condition is None or self.condition(hit):
            if self.probe is not None:
                hit = replace(hit, values=self.probe.read(self.board))
            self.hits.append(hit)
            if self.on_hit is not None:
                self.on_hit(hit)

    def _on_code(self, _uc, address: int, _size: int, _user) -> None:
        icount = self.cpu.icount_in_hook()
        if icount > self.after:
            self._note(Hit(icount, HitKind.BREAKPOINT, address, hart=self.board.current))

    def _on_memory(self, _uc, access: int, address: int, size: int, value: int, _user) -> None:
        icount = self.cpu.icount_in_hook()
        if icount <= self.after:
            return
        kind = HitKind.WRITE if access == UC_MEM_WRITE else HitKind.READ
        for piece in self._pieces[self.board.current]:
            overlaps = address < piece.paddr + piece.length and piece.paddr < address + size
            if not overlaps or not piece.watch.catches(kind):
                continue
            if not piece.watch.physical and not self._through(piece, address):
                continue                  # another mapping of the same memory
            vaddr = piece.vaddr + max(0, address - piece.paddr)
            store = self._store(piece.watch, address, _stored_bytes(value, size)) \
                if kind is HitKind.WRITE else None
            self._note(Hit(icount, kind, vaddr, piece.watch, store, self.board.current))
            return

    def _on_dma(self, device: str, paddr: int, data: bytes) -> None:
        """A device is about to write ``data`` at ``paddr`` (inside the MMIO access of
        the instruction that made it serve a request). A virtual watch counts it when
        its current translation covers the bytes: DMA has no virtual address."""
        icount = self.cpu.icount_in_hook()
        if icount <= self.after:
            return
        for piece in self._pieces[self.board.current]:
            overlaps = paddr < piece.paddr + piece.length and piece.paddr < paddr + len(data)
            if overlaps and piece.watch.catches(HitKind.WRITE):
                vaddr = piece.vaddr + max(0, paddr - piece.paddr)
                store = self._store(piece.watch, paddr, data, device)
                last = self.hits[-1] if self.hits else None
                if last is not None and last.icount == icount and last.watch == piece.watch \
                        and last.store is not None and last.store.device == device:
                    # another buffer of the same request: one write, from the first
                    # buffer's old value to this one's new value
                    self.hits[-1] = replace(last, store=replace(store, old=last.store.old))
                    return
                self._note(Hit(icount, HitKind.WRITE, vaddr, piece.watch, store,
                               self.board.current))
                return

    def _through(self, piece: WatchedPiece, paddr: int) -> bool:
        """Did the access at ``paddr`` use the piece's virtual address? (The page offsets
        agree, so its virtual address must sit at the same distance from the piece's.)"""
        memory = self.board.memory
        cpu = self.cpu
        try:
            insn, length = memory.fetch_trapping_instruction(cpu.pc, cpu.priv)
        except mmu.PageFault:
            return True
        vaddr = effective_address(insn, length, cpu.x)
        return vaddr is None or vaddr - paddr == piece.vaddr - piece.paddr

    def _store(self, watch: Watchpoint, paddr: int, stored: bytes,
               device: str | None = None) -> Store:
        """The watched range before and after the store of ``stored`` at ``paddr``."""
        cpu = self.cpu
        pc = cpu.pc
        try:
            insn, length = self.board.memory.fetch_trapping_instruction(pc, cpu.priv)
            instruction: bytes | None = insn.to_bytes(length, "little")
        except mmu.PageFault:
            instruction = None
        pieces = [piece for piece in self._pieces[self.board.current] if piece.watch == watch]
        ram = self.board.ram
        if sum(piece.length for piece in pieces) != watch.length or \
                not all(ram.contains(piece.paddr, piece.length) for piece in pieces):
            # part unmapped, or device registers: reading those would run their callbacks
            return Store(pc, instruction, None, None, device)
        old = bytearray(watch.length)
        for piece in pieces:
            start = piece.vaddr - watch.address          # a physical piece's vaddr is its paddr
            old[start:start + piece.length] = cpu.read_phys(piece.paddr, piece.length)
        new = bytearray(old)
        for piece in pieces:
            start = piece.vaddr - watch.address
            low = max(paddr, piece.paddr)
            high = min(paddr + len(stored), piece.paddr + piece.length)
            if low < high:
                new[start + low - piece.paddr:start + high - piece.paddr] = \
                    stored[low - paddr:high - paddr]
        return Store(pc, instruction, bytes(old), bytes(new), device)


def _stored_bytes(value: int, size: int) -> bytes:
    """The bytes a memory hook's store of ``value`` writes."""
    return (value & ((1 << (8 * size)) - 1)).to_bytes(size, "little")


def translate_watchpoints(memory: GuestMemory, watchpoints: Iterable[Watchpoint]
                          ) -> list[WatchedPiece]:
    """Watched ranges split at page boundaries, each virtual piece translated with the
    current page tables (a piece not mapped now is left out)."""
    pieces: list[WatchedPiece] = []
    for watch in watchpoints:
        for vaddr, length in mmu.page_pieces(watch.address, watch.length):
            if watch.physical:
                pieces.append(WatchedPiece(vaddr, vaddr, length, watch))
                continue
            try:
                pieces.append(WatchedPiece(memory.translate(vaddr), vaddr, length, watch))
            except mmu.PageFault:
                pass
    return pieces
