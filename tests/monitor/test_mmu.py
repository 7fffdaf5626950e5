"""Tests of rr.monitor.mmu against page tables built in fake physical memory.

The tables are written here from the privileged spec's PTE layout, one mode
at a time (Sv39, Sv48, Sv57), so a walker bug in level count, VPN slicing,
superpage handling or permission logic shows up as a wrong address or a
missing/extra fault.
"""

from __future__ import annotations

import pytest

from rr.monitor.constants import (
    CAUSE_FETCH_PAGE_FAULT,
    CAUSE_LOAD_PAGE_FAULT,
    CAUSE_STORE_PAGE_FAULT,
    PRIV_M,
    PRIV_S,
    PRIV_U,
    PTE_A,
    PTE_D,
    PTE_G,
    PTE_R,
    PTE_U,
    PTE_V,
    PTE_W,
    PTE_X,
    SATP_MODE_SV39,
    SATP_MODE_SV48,
    SATP_MODE_SV57,
)
from rr.monitor.mmu import (
    PageFault,
    Translation,
    fetch_instruction,
    read_virtual,
    translate,
)

PAGE = 4096
MODES = {SATP_MODE_SV39: (3, 39), SATP_MODE_SV48: (4, 48), SATP_MODE_SV57: (5, 57)}
MASK64 = (1 << 64) - 1


class FakePhys:
    """Sparse physical memory: 4 KiB bytearrays, unbacked pages read as zero."""

    def __init__(self) -> None:
        self.pages: dict[int, bytearray] = {}

    def _page(self, number: int) -> bytearray:
        return self.pages.setdefault(number, bytearray(PAGE))

    def write(self, addr: int, data: bytes) -> None:
        for i, byte in enumerate(data):
            self._page((addr + i) // PAGE)[(addr + i) % PAGE] = byte

    def read(self, addr: int, size: int) -> bytes:
        out = bytearray()
        for i in range(size):
            page = self.pages.get((addr + i) // PAGE)
            out.append(page[(addr + i) % PAGE] if page is not None else 0)
        return bytes(out)

    def read64(self, addr: int) -> int:
        return int.from_bytes(self.read(addr, 8), "little")

    def write64(self, addr: int, value: int) -> None:
        self.write(addr, value.to_bytes(8, "little"))

    def snapshot(self) -> dict[int, bytes]:
        return {n: bytes(p) for n, p in self.pages.items()}


class PageTables:
    """Builds a page-table tree for one paging mode in a FakePhys."""

    def __init__(self, mem: FakePhys, mode: int, frames_at: int = 0x8100_0000) -> None:
        self.mem, self.mode = mem, mode
        self.levels = MODES[mode][0]
        self.next_frame = frames_at
        self.root = self._alloc()

    def _alloc(self) -> int:
        frame = self.next_frame
        self.next_frame += PAGE
        self.mem.write(frame, bytes(PAGE))
        return frame

    @property
    def satp(self) -> int:
        return (self.mode << 60) | (0x5A5A << 44) | (self.root >> 12)   # with an ASID

    def slot(self, vaddr: int, level: int) -> int:
        """Physical address of the PTE for vaddr at level, building tables above."""
        table = self.root
        for current in range(self.levels - 1, level, -1):
            address = table + self._vpn(vaddr, current) * 8
            pte = self.mem.read64(address)
            if not pte & PTE_V:
                child = self._alloc()
                pte = ((child >> 12) << 10) | PTE_V
                self.mem.write64(address, pte)
            table = ((pte >> 10) & ((1 << 44) - 1)) << 12
        return table + self._vpn(vaddr, level) * 8

    @staticmethod
    def _vpn(vaddr: int, level: int) -> int:
        return (vaddr >> (12 + 9 * level)) & 0x1FF

    def map(self, vaddr: int, paddr: int, flags: int, level: int = 0) -> None:
        self.set_pte(vaddr, level, ((paddr >> 12) << 10) | flags)

    def set_pte(self, vaddr: int, level: int, pte: int) -> None:
        self.mem.write64(self.slot(vaddr, level), pte)


RWX = PTE_V | PTE_R | PTE_W | PTE_X | PTE_A | PTE_D
USER_VA = 0x12_3456_7000          # canonical in every mode
KERNEL_VA = 0xFFFF_FFFF_C012_3000  # high half, canonical in every mode


@pytest.fixture(params=list(MODES), ids=["sv39", "sv48", "sv57"])
def mode(request: pytest.FixtureRequest) -> int:
    return request.param


@pytest.fixture
def mem() -> FakePhys:
    return FakePhys()


def _tr(pt: PageTables, vaddr: int, **kwargs) -> Translation:
    return translate(pt.satp, vaddr, pt.mem.read64, **kwargs)


# --- basic translation --------------------------------------------------------

def test_bare_mode_is_identity(mem: FakePhys) -> None:
    tr = translate(0, 0x8020_0123, mem.read64, access="write", priv=PRIV_U)
    assert tr.paddr == 0x8020_0123 and tr.page_size == PAGE
    assert tr.flags & (PTE_R | PTE_W | PTE_X | PTE_V) == PTE_R | PTE_W | PTE_X | PTE_V


def test_machine_mode_is_not_translated(mem: FakePhys, mode: int) -> None:
    pt = PageTables(mem, mode)
    assert _tr(pt, 0x8000_0042, priv=PRIV_M).paddr == 0x8000_0042


def test_4k_pages(mem: FakePhys, mode: int) -> None:
    pt = PageTables(mem, mode)
    pt.map(USER_VA, 0x8020_5000, RWX | PTE_G)
    pt.map(KERNEL_VA, 0x8030_1000, RWX)
    pt.map(USER_VA + PAGE, 0x8000_0000, RWX)   # neighbour goes somewhere else
    tr = _tr(pt, USER_VA + 0xABC)
    assert tr == Translation(0x8020_5ABC, PAGE, RWX | PTE_G)
    assert _tr(pt, KERNEL_VA + 7).paddr == 0x8030_1007
    assert _tr(pt, USER_VA + PAGE + 8).paddr == 0x8000_0008


def test_flags_report_leaf_bits_including_rsw(mem: FakePhys, mode: int) -> None:
    pt = PageTables(mem, mode)
    pt.map(USER_VA, 0x8020_0000, PTE_V | PTE_R | (3 << 8))
    assert _tr(pt, USER_VA).flags == PTE_V | PTE_R | (3 << 8)


def test_top_of_va_range_uses_every_vpn_field(mem: FakePhys, mode: int) -> None:
    levels, bits = MODES[mode]
    pt = PageTables(mem, mode)
    highest = (MASK64 & ~0xFFF)                          # -4096: last page
    lowest_negative = MASK64 & ~((1 << (bits - 1)) - 1)  # first canonical high address
    pt.map(highest, 0x8040_0000, RWX)
    pt.map(lowest_negative, 0x8050_0000, RWX)
    assert _tr(pt, MASK64).paddr == 0x8040_0FFF
    assert _tr(pt, lowest_negative + 1).paddr == 0x8050_0001
    top_positive = (1 << (bits - 1)) - PAGE
    pt.map(top_positive, 0x8060_0000, RWX)
    assert _tr(pt, top_positive + 3).paddr == 0x8060_0003


def test_asid_bits_ignored_and_root_from_ppn(mem: FakePhys) -> None:
    pt = PageTables(mem, SATP_MODE_SV39, frames_at=0x9_0000_0000)   # root above 4 GiB
    pt.map(USER_VA, 0x8020_0000, RWX)
    assert _tr(pt, USER_VA).paddr == 0x8020_0000


def test_sv57_only_address(mem: FakePhys) -> None:
    va = 0x00AB_CDEF_0123_4000
    pt57 = PageTables(mem, SATP_MODE_SV57)
    pt57.map(va, 0x8070_0000, RWX)
    assert _tr(pt57, va + 0x10).paddr == 0x8070_0010
    for other in (SATP_MODE_SV39, SATP_MODE_SV48):
        with pytest.raises(PageFault, match="non-canonical"):
            _tr(PageTables(mem, other, frames_at=0x8200_0000 + other * 0x10_0000), va)


# --- superpages -------------------------------------------------------------

@pytest.mark.parametrize("mode,level", [(m, lv) for m, (n, _) in MODES.items()
                                        for lv in range(1, n)])
def test_superpages(mem: FakePhys, mode: int, level: int) -> None:
    levels, bits = MODES[mode]
    size = PAGE << (9 * level)
    vbase = (0x5 * size) & ((1 << (bits - 1)) - 1)     # aligned, canonical, non-zero VPNs
    if level == levels - 1:
        vbase = 3 * size
    pbase = 7 * size
    pt = PageTables(mem, mode)
    pt.map(vbase, pbase, RWX, level=level)
    inner = size - 0x1234 - 1
    tr = _tr(pt, vbase + inner)
    assert tr == Translation(pbase + inner, size, RWX)
    assert _tr(pt, vbase).paddr == pbase


def test_2m_and_1g_superpages_explicitly(mem: FakePhys, mode: int) -> None:
    pt = PageTables(mem, mode)
    pt.map(0x4000_0000, 0x8000_0000, RWX, level=2)           # 1 GiB
    pt.map(0x0020_0000, 0x8060_0000, RWX, level=1)           # 2 MiB
    assert _tr(pt, 0x4012_3456) == Translation(0x8012_3456, 1 << 30, RWX)
    assert _tr(pt, 0x003F_FFFF) == Translation(0x807F_FFFF, 1 << 21, RWX)


@pytest.mark.parametrize("level,paddr", [(1, 0x8000_1000), (1, 0x8010_0000), (2, 0x8020_0000),
                                         (2, 0x8000_1000)])
def test_misaligned_superpage_faults(mem: FakePhys, mode: int, level: int, paddr: int) -> None:
    pt = PageTables(mem, mode)
    pt.map(0x4000_0000, paddr, RWX, level=level)
    for access in ("read", "debug"):
        with pytest.raises(PageFault, match="misaligned superpage"):
            _tr(pt, 0x4000_0000, access=access)


# --- invalid entries ----------------------------------------------------------

def test_unmapped_and_invalid(mem: FakePhys, mode: int) -> None:
    pt = PageTables(mem, mode)
    with pytest.raises(PageFault, match="invalid PTE"):
        _tr(pt, USER_VA)                                      # empty root
    pt.map(USER_VA, 0x8020_0000, RWX & ~PTE_V)                # leaf with V = 0
    for access in ("read", "debug"):
        with pytest.raises(PageFault, match="invalid PTE at level 0"):
            _tr(pt, USER_VA, access=access)
    with pytest.raises(PageFault, match="invalid PTE at level 0"):
        _tr(pt, USER_VA + PAGE)                                # sibling slot empty


def test_invalid_intermediate(mem: FakePhys, mode: int) -> None:
    pt = PageTables(mem, mode)
    pt.map(USER_VA, 0x8020_0000, RWX)
    pt.set_pte(USER_VA, 1, mem.read64(pt.slot(USER_VA, 1)) & ~PTE_V)
    with pytest.raises(PageFault, match="invalid PTE at level 1"):
        _tr(pt, USER_VA, access="debug")


@pytest.mark.parametrize("flags", [PTE_V | PTE_W, PTE_V | PTE_W | PTE_X])
def test_write_without_read_is_reserved(mem: FakePhys, mode: int, flags: int) -> None:
    pt = PageTables(mem, mode)
    pt.map(USER_VA, 0x8020_0000, flags)
    for access in ("write", "debug"):
        with pytest.raises(PageFault, match="W-without-R"):
            _tr(pt, USER_VA, access=access)


def test_pointer_at_last_level_faults(mem: FakePhys, mode: int) -> None:
    pt = PageTables(mem, mode)
    pt.map(USER_VA, 0x8020_0000, PTE_V)        # V only: a pointer, but no level left
    with pytest.raises(PageFault, match="non-leaf"):
        _tr(pt, USER_VA, access="debug")


@pytest.mark.parametrize("bit", [54, 60, 61, 62, 63])
def test_reserved_high_pte_bits_fault(mem: FakePhys, mode: int, bit: int) -> None:
    pt = PageTables(mem, mode)
    pt.map(USER_VA, 0x8020_0000, RWX)
    pt.set_pte(USER_VA, 0, mem.read64(pt.slot(USER_VA, 0)) | (1 << bit))
    with pytest.raises(PageFault, match="reserved bits"):
        _tr(pt, USER_VA)


def test_non_canonical(mem: FakePhys, mode: int) -> None:
    _, bits = MODES[mode]
    pt = PageTables(mem, mode)
    for va in (1 << (bits - 1), 1 << bits, 1 << 63, (MASK64 << (bits - 1)) & MASK64 ^ (1 << 62)):
        with pytest.raises(PageFault, match="non-canonical") as info:
            _tr(pt, va, access="debug")
        assert info.value.vaddr == va


def test_unsupported_satp_mode(mem: FakePhys) -> None:
    with pytest.raises(PageFault, match="unsupported satp mode"):
        translate(1 << 60, 0x1000, mem.read64)


def test_unknown_access_kind(mem: FakePhys) -> None:
    with pytest.raises(ValueError):
        translate(0, 0, mem.read64, access="fetch")


# --- permissions ----------------------------------------------------------------

def _single(mem: FakePhys, mode: int, flags: int) -> PageTables:
    pt = PageTables(mem, mode)
    pt.map(USER_VA, 0x8020_0000, flags | PTE_V)
    return pt


def _allowed(pt: PageTables, **kwargs) -> bool:
    try:
        _tr(pt, USER_VA + 8, **kwargs)
    except PageFault:
        return False
    return True


@pytest.mark.parametrize("flags,read,write,execute", [
    (PTE_R, True, False, False),
    (PTE_R | PTE_W, True, True, False),
    (PTE_X, False, False, True),
    (PTE_R | PTE_X, True, False, True),
    (PTE_R | PTE_W | PTE_X, True, True, True),
])
def test_rwx(mem: FakePhys, mode: int, flags: int, read: bool, write: bool, execute: bool) -> None:
    pt = _single(mem, mode, flags)
    assert _allowed(pt, access="read") is read
    assert _allowed(pt, access="write") is write
    assert _allowed(pt, access="execute") is execute
    assert _allowed(pt, access="debug")
    # same answers for U-mode on a user page
    upt = _single(FakePhys(), mode, flags | PTE_U)
    assert _allowed(upt, access="read", priv=PRIV_U) is read
    assert _allowed(upt, access="write", priv=PRIV_U) is write
    assert _allowed(upt, access="execute", priv=PRIV_U) is execute


def test_mxr_makes_execute_only_readable(mem: FakePhys, mode: int) -> None:
    pt = _single(mem, mode, PTE_X)
    assert not _allowed(pt, access="read")
    assert _allowed(pt, access="read", mxr=True)
    assert not _allowed(pt, access="write", mxr=True)
    upt = _single(FakePhys(), mode, PTE_X | PTE_U)
    assert _allowed(upt, access="read", priv=PRIV_U, mxr=True)


def test_user_mode_needs_u_bit(mem: FakePhys, mode: int) -> None:
    pt = _single(mem, mode, PTE_R | PTE_W | PTE_X)
    for access in ("read", "write", "execute"):
        assert not _allowed(pt, access=access, priv=PRIV_U)
        assert not _allowed(pt, access=access, priv=PRIV_U, sum_bit=True)
    assert _allowed(pt, access="debug", priv=PRIV_U)


def test_supervisor_and_user_pages(mem: FakePhys, mode: int) -> None:
    pt = _single(mem, mode, PTE_R | PTE_W | PTE_X | PTE_U)
    for access in ("read", "write", "execute"):
        assert not _allowed(pt, access=access, priv=PRIV_S)
    assert _allowed(pt, access="read", priv=PRIV_S, sum_bit=True)
    assert _allowed(pt, access="write", priv=PRIV_S, sum_bit=True)
    assert not _allowed(pt, access="execute", priv=PRIV_S, sum_bit=True)   # never
    assert _allowed(pt, access="debug", priv=PRIV_S)
    kernel = _single(FakePhys(), mode, PTE_R | PTE_W | PTE_X)
    for access in ("read", "write", "execute"):
        assert _allowed(kernel, access=access, priv=PRIV_S)


def test_debug_ignores_permissions(mem: FakePhys, mode: int) -> None:
    for flags in (PTE_X, PTE_R, PTE_X | PTE_U):
        pt = _single(FakePhys(), mode, flags)
        assert _tr(pt, USER_VA + 5, access="debug", priv=PRIV_S).paddr == 0x8020_0005


def test_fault_cause_follows_access(mem: FakePhys, mode: int) -> None:
    pt = PageTables(mem, mode)
    causes = {"read": CAUSE_LOAD_PAGE_FAULT, "debug": CAUSE_LOAD_PAGE_FAULT,
              "write": CAUSE_STORE_PAGE_FAULT, "execute": CAUSE_FETCH_PAGE_FAULT}
    for access, cause in causes.items():
        with pytest.raises(PageFault) as info:
            _tr(pt, USER_VA + 3, access=access)
        assert info.value.cause == cause
        assert info.value.access == access
        assert info.value.vaddr == USER_VA + 3
        assert info.value.reason


# --- A/D bits -----------------------------------------------------------------------

def test_accessed_dirty_neither_required_nor_written(mem: FakePhys, mode: int) -> None:
    pt = PageTables(mem, mode)
    pt.map(USER_VA, 0x8020_0000, PTE_V | PTE_R | PTE_W | PTE_X)   # A = D = 0
    before = mem.snapshot()
    for access in ("read", "write", "execute", "debug"):
        assert _tr(pt, USER_VA, access=access).flags & (PTE_A | PTE_D) == 0
    read_virtual(pt.satp, USER_VA, 64, mem.read)
    assert mem.snapshot() == before


# --- read_virtual and fetch_instruction --------------------------------------------

def test_read_virtual_crosses_pages(mem: FakePhys, mode: int) -> None:
    pt = PageTables(mem, mode)
    frames = [0x8030_0000, 0x8010_0000, 0x8050_0000]      # deliberately out of order
    for i, frame in enumerate(frames):
        pt.map(USER_VA + i * PAGE, frame, RWX)
        mem.write(frame, bytes([0x10 * (i + 1) + j % 16 for j in range(PAGE)]))
    data = read_virtual(pt.satp, USER_VA + PAGE - 3, PAGE + 6, mem.read)
    expected = mem.read(frames[0] + PAGE - 3, 3) + mem.read(frames[1], PAGE) + mem.read(frames[2], 3)
    assert data == expected
    assert read_virtual(pt.satp, USER_VA, 0, mem.read) == b""


def test_read_virtual_within_superpage(mem: FakePhys, mode: int) -> None:
    pt = PageTables(mem, mode)
    pt.map(0x4000_0000, 0x8000_0000, RWX, level=1)
    mem.write(0x8000_0FFE, b"abcdef")
    assert read_virtual(pt.satp, 0x4000_0FFE, 6, mem.read) == b"abcdef"


def test_read_virtual_fault_on_second_page(mem: FakePhys, mode: int) -> None:
    pt = PageTables(mem, mode)
    pt.map(USER_VA, 0x8030_0000, RWX)
    with pytest.raises(PageFault) as info:
        read_virtual(pt.satp, USER_VA + PAGE - 2, 4, mem.read)
    assert info.value.vaddr == USER_VA + PAGE


def test_read_virtual_checks_permissions(mem: FakePhys, mode: int) -> None:
    pt = PageTables(mem, mode)
    pt.map(USER_VA, 0x8030_0000, PTE_V | PTE_X | PTE_U)
    mem.write(0x8030_0000, b"\x13\x00\x00\x00")
    with pytest.raises(PageFault):
        read_virtual(pt.satp, USER_VA, 4, mem.read)
    assert read_virtual(pt.satp, USER_VA, 4, mem.read, access="debug") == b"\x13\x00\x00\x00"
    assert read_virtual(pt.satp, USER_VA, 4, mem.read, access="execute",
                        priv=PRIV_U) == b"\x13\x00\x00\x00"


def test_read_virtual_bare(mem: FakePhys) -> None:
    mem.write(0x8000_0FFC, b"12345678")
    assert read_virtual(0, 0x8000_0FFC, 8, mem.read) == b"12345678"


def test_fetch_instruction(mem: FakePhys, mode: int) -> None:
    pt = PageTables(mem, mode)
    pt.map(USER_VA, 0x8030_0000, PTE_V | PTE_X | PTE_R)
    pt.map(USER_VA + PAGE, 0x8010_0000, PTE_V | PTE_X)
    mem.write(0x8030_0000, (0x00813503).to_bytes(4, "little") + (0x757E).to_bytes(2, "little"))
    assert fetch_instruction(pt.satp, USER_VA, mem.read) == (0x00813503, 4)
    assert fetch_instruction(pt.satp, USER_VA + 4, mem.read) == (0x757E, 2)
    # a 32-bit instruction straddling two physically distant pages
    mem.write(0x8030_0FFE, (0x3503).to_bytes(2, "little"))
    mem.write(0x8010_0000, (0x0081).to_bytes(2, "little"))
    assert fetch_instruction(pt.satp, USER_VA + PAGE - 2, mem.read) == (0x00813503, 4)


def test_fetch_compressed_at_end_of_last_mapped_page(mem: FakePhys, mode: int) -> None:
    pt = PageTables(mem, mode)
    pt.map(USER_VA, 0x8030_0000, PTE_V | PTE_X)
    mem.write(0x8030_0FFE, (0x9002).to_bytes(2, "little"))
    assert fetch_instruction(pt.satp, USER_VA + PAGE - 2, mem.read) == (0x9002, 2)
    mem.write(0x8030_0FFE, (0x3503).to_bytes(2, "little"))
    with pytest.raises(PageFault) as info:
        fetch_instruction(pt.satp, USER_VA + PAGE - 2, mem.read)
    assert info.value.vaddr == USER_VA + PAGE
    assert info.value.cause == CAUSE_FETCH_PAGE_FAULT
