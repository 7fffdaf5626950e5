"""The trace format: events, header, writer, reader (specified in traces/FORMAT.md).

Import from here: ``from rr.log import TraceWriter, TraceReader, ConsoleInput``.
"""

from rr.log.errors import (TraceCorrupt, TraceError, TraceTruncated, TraceVersionError,
                           TraceWriteError)
from rr.log.events import (EVENT_TYPES, ClockRead, ConsoleInput, Entropy, Event, GuestExit,
                           ConsoleClosed, Progress, UserQuit, WallClockRead, decode_event,
                           encode_event, format_event, kind_names, kind_of_tag, tag_of, tags_for)
from rr.log.frames import FORMAT_VERSION, MAGIC
from rr.log.header import EmbeddedFile, TraceHeader
from rr.log.index import ChunkInfo, TraceFooter
from rr.log.trace_reader import TraceReader
from rr.log.trace_writer import TraceWriter

__all__ = [
    "TraceError", "TraceWriteError", "TraceTruncated", "TraceCorrupt", "TraceVersionError",
    "Event", "ConsoleInput", "ClockRead", "WallClockRead", "Entropy", "ConsoleClosed",
    "UserQuit", "GuestExit", "Progress", "EVENT_TYPES", "encode_event", "decode_event", "format_event",
    "kind_names", "kind_of_tag", "tag_of", "tags_for",
    "FORMAT_VERSION", "MAGIC", "EmbeddedFile", "TraceHeader", "ChunkInfo", "TraceFooter",
    "TraceReader", "TraceWriter",
]
