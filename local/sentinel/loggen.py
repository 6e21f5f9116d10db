"""Project-owned log generator: HDFS-like block lifecycles and BlueGene/L-like RAS lines, with labels.

No third-party log data is committed (the public HDFS/BGL samples are for research use only), so
tests, benchmarks and the demo use logs made here, shaped like the real ones (docs/LOGS.md):

* **HDFS**: each block goes through the events Hadoop 0.x writes for it — ``allocateBlock``, then
  per replica ``Receiving block`` → ``Received block`` → ``PacketResponder … terminating`` →
  ``addStoredBlock: blockMap updated``, later maybe verification, reads (``Served block``) and
  deletion (``NameSystem.delete`` → ``ask … to delete`` naming several blocks on one line →
  ``Deleting block``). Blocks overlap in time, so their lines interleave. About
  ``anomaly_share`` of the blocks fail in one of :data:`HDFS_FAULTS` (write exceptions, interrupted
  responders, empty packets, replication timeouts, redundant or orphan ``addStoredBlock``, delete
  errors, lost replicas); normal blocks vary too (replication 2 or 3, or 10 for job files, reads,
  re-replication, a read that failed once).
* **BGL**: RAS lines ``<label> <epoch> <date> <node> <time> <node> RAS <component> <level> <msg>``,
  label ``-`` for normal lines, else an alert category; alerts come in bursts.

Deterministic by seed: the same arguments give the same bytes. Every line also carries its true
event name (for grouping accuracy) and every block its fault kind (``None`` = normal).
"""

from __future__ import annotations

import argparse
import csv
import heapq
import json
import random
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

HDFS_START = datetime(2008, 11, 9, 20, 35, 18, tzinfo=UTC)
BGL_START = datetime(2005, 6, 3, 15, 42, 50, tzinfo=UTC)
DEFAULT_SHARE = 0.03
#: Fault kinds of anomalous HDFS blocks (the label file's third column).
HDFS_FAULTS = (
    "write-exception",
    "responder-interrupted",
    "empty-packet",
    "replication-timeout",
    "redundant-add",
    "orphan-block",
    "delete-error",
    "lost-replica",
)
_EXCEPTIONS = (
    "java.io.IOException: Connection reset by peer",
    "java.io.IOException: Could not read from stream",
    "java.io.EOFException",
    "java.io.InterruptedIOException: Interruped while waiting for IO on channel",
    "java.net.SocketTimeoutException: 480000 millis timeout while waiting for channel to be ready",
)


@dataclass(frozen=True, slots=True)
class LogLine:
    """One generated line, the name of its true event type, and its session key(s)."""

    text: str
    event: str
    sessions: tuple[str, ...] = ()


@dataclass
class HdfsLog:
    """A generated HDFS log: iterate :meth:`lines`; ``faults`` fills in as blocks are generated."""

    blocks: int
    seed: int = 0
    anomaly_share: float = DEFAULT_SHARE
    blocks_per_second: float = 4.0
    faults: dict[str, str | None] = field(default_factory=dict)

    def lines(self) -> Iterator[LogLine]:
        """The log in time order; memory is bounded by the blocks alive at once, not the log size."""
        self.faults.clear()
        rng = random.Random(self.seed)  # noqa: S311 - reproducible test data, not a secret
        writer = _HdfsWriter(rng)
        now = HDFS_START.timestamp()
        for _ in range(self.blocks):
            now += rng.expovariate(self.blocks_per_second)
            yield from writer.until(now)
            block = f"blk_{rng.randrange(-(2**63), 2**63)}"
            fault = rng.choice(HDFS_FAULTS) if rng.random() < self.anomaly_share else None
            self.faults[block] = fault
            writer.block(now, block, fault)
        writer.flush_deletes(float("inf"))
        yield from writer.until(float("inf"))

    def write(self, log_path: Path, labels_path: Path | None = None) -> dict[str, int]:
        """Write the log (and ``BlockId,Label,Kind`` labels); returns line/block/anomaly counts."""
        log_path.parent.mkdir(parents=True, exist_ok=True)
        count = 0
        with log_path.open("w", encoding="utf-8", newline="\n") as out:
            for line in self.lines():
                out.write(line.text + "\n")
                count += 1
        if labels_path is not None:
            write_labels(labels_path, self.faults)
        anomalies = sum(1 for kind in self.faults.values() if kind)
        return {"lines": count, "blocks": len(self.faults), "anomalies": anomalies}


def write_labels(path: Path, faults: dict[str, str | None]) -> None:
    """loghub's ``anomaly_label.csv`` shape (``BlockId,Label`` with Normal/Anomaly), plus the kind."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["BlockId", "Label", "Kind"])
        for block, kind in faults.items():
            writer.writerow([block, "Anomaly" if kind else "Normal", kind or ""])


def _poisson(rng: random.Random, mean: float) -> int:
    count, total = 0, rng.expovariate(1.0)
    while total < mean:
        count += 1
        total += rng.expovariate(1.0)
    return count


class _HdfsWriter:
    """Schedules lines on a heap by time; deletions are batched per data node (several blocks a line)."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.nodes = [
            f"10.{rng.choice((250, 251))}.{rng.randrange(1, 255)}.{rng.randrange(2, 255)}" for _ in range(200)
        ]
        self.heap: list[tuple[float, int, LogLine]] = []
        self.order = 0
        self.batches: dict[str, list[tuple[float, str]]] = {}

    def until(self, moment: float) -> Iterator[LogLine]:
        while self.heap and self.heap[0][0] <= moment:
            yield heapq.heappop(self.heap)[2]

    def emit(  # noqa: PLR0917 - one line's fields, in the order they appear
        self, when: float, level: str, component: str, event: str, content: str, sessions: tuple[str, ...]
    ) -> None:
        pid = self.rng.randrange(13, 800)
        stamp = datetime.fromtimestamp(when, tz=UTC)
        text = f"{stamp:%y%m%d %H%M%S} {pid} {level} {component}: {content}"
        self.order += 1
        heapq.heappush(self.heap, (when, self.order, LogLine(text, event, sessions)))

    def block(self, t0: float, block: str, fault: str | None) -> None:  # noqa: PLR0912, PLR0915 - one lifecycle
        rng, nodes = self.rng, self.nodes
        own = (block,)

        def add(when: float, level: str, component: str, event: str, content: str) -> None:
            self.emit(when, level, component, event, content, own)

        job_file = rng.random() < 0.05
        replicas = 10 if job_file else (3 if rng.random() < 0.9 else 2)
        targets = rng.sample(nodes, replicas)
        size = 67108864 if rng.random() < 0.7 else rng.randrange(1000, 67108864)
        task = f"200811092030_{rng.randrange(1, 9999):04d}"
        part = rng.randrange(0, 2000)
        path = (
            f"/mnt/hadoop/mapred/system/job_{task}/job.jar"
            if job_file
            else f"/user/root/rand/_temporary/_task_{task}_m_{part:06d}_0/part-{part:05d}"
        )
        add(t0, "INFO", "dfs.FSNamesystem", "allocate", f"BLOCK* NameSystem.allocateBlock: {path}. {block}")
        lost = {rng.randrange(replicas)} if fault == "lost-replica" else set()
        if lost and rng.random() < 0.5:
            lost.add(rng.randrange(replicas))
        broken = rng.randrange(replicas)
        done = t0 + 1.0
        for i, node in enumerate(targets):
            source = rng.choice(nodes) if i == 0 else targets[i - 1]
            start = t0 + rng.uniform(0.0, 1.0)
            add(
                start,
                "INFO",
                "dfs.DataNode$DataXceiver",
                "receiving",
                f"Receiving block {block} src: /{source}:{rng.randrange(30000, 60000)} dest: /{node}:50010",
            )
            if i in lost:
                continue
            end = start + rng.uniform(0.5, 20.0)
            done = max(done, end)
            responder = (replicas - 1 - i) if replicas <= 3 else rng.randrange(0, 3)
            if fault in ("write-exception", "responder-interrupted") and i == broken:
                if fault == "write-exception":
                    exc = rng.choice(_EXCEPTIONS)
                    add(end, "INFO", "dfs.DataNode$DataXceiver", "receive-exception",
                        f"Exception in receiveBlock for block {block} {exc}")  # fmt: skip
                    add(end, "INFO", "dfs.DataNode$DataXceiver", "write-exception",
                        f"writeBlock {block} received exception {exc}")  # fmt: skip
                add(end, "INFO", "dfs.DataNode$PacketResponder", "responder-interrupted",
                    f"PacketResponder {responder} for block {block} Interrupted.")  # fmt: skip
                continue
            if fault == "empty-packet" and i == broken:
                add(end - 0.2, "INFO", "dfs.DataNode$DataXceiver", "empty-packet",
                    f"Receiving empty packet for block {block}")  # fmt: skip
                add(end - 0.1, "INFO", "dfs.DataNode$BlockReceiver", "offset-change",
                    f"Changing block file offset of block {block} from {rng.randrange(0, 9) * 65536} to "
                    f"{rng.randrange(1, 9) * 65536} meta file offset to {rng.randrange(7, 520)}")  # fmt: skip
            add(end, "INFO", "dfs.DataNode$PacketResponder", "received",
                f"Received block {block} of size {size} from /{source}")  # fmt: skip
            add(end, "INFO", "dfs.DataNode$PacketResponder", "responder-terminating",
                f"PacketResponder {responder} for block {block} terminating")  # fmt: skip
            add(end + rng.uniform(0.0, 1.0), "INFO", "dfs.FSNamesystem", "stored",
                f"BLOCK* NameSystem.addStoredBlock: blockMap updated: {node}:50010 is added to {block} "
                f"size {size}")  # fmt: skip
        if fault == "redundant-add":
            add(done + rng.uniform(1, 5), "INFO", "dfs.FSNamesystem", "redundant-add",
                f"BLOCK* NameSystem.addStoredBlock: Redundant addStoredBlock request received for {block} "
                f"on {rng.choice(targets)}:50010 size {size}")  # fmt: skip
        if fault == "orphan-block":
            add(done + rng.uniform(1, 5), "INFO", "dfs.FSNamesystem", "orphan-add",
                f"BLOCK* NameSystem.addStoredBlock: addStoredBlock request received for {block} "
                f"on {rng.choice(nodes)}:50010 size {size} But it does not belong to any file.")  # fmt: skip
        if fault == "replication-timeout" or rng.random() < 0.01:
            self._replicate(add, block, size, targets, done + rng.uniform(30, 300), fail=bool(fault))
        for _ in range(_poisson(rng, 1.5)):
            reader, client, when = rng.choice(targets), rng.choice(nodes), done + rng.uniform(5, 900)
            if rng.random() < 0.03:
                add(when, "WARN", "dfs.DataNode$DataXceiver", "serve-exception",
                    f"{reader}:50010:Got exception while serving {block} to /{client}:")  # fmt: skip
            else:
                add(when, "INFO", "dfs.DataNode$DataXceiver", "served",
                    f"{reader}:50010 Served block {block} to /{client}")  # fmt: skip
        if rng.random() < 0.3:
            add(done + rng.uniform(60, 1200), "INFO", "dfs.DataBlockScanner", "verified",
                f"Verification succeeded for {block}")  # fmt: skip
        if rng.random() < 0.5 or fault == "delete-error":
            self._delete(add, block, targets, done + rng.uniform(600, 1800), error=fault == "delete-error")

    def _replicate(
        self, add: Callable[..., None], block: str, size: int, targets: list[str], when: float, *, fail: bool
    ) -> None:
        rng = self.rng
        source, target = rng.choice(targets), rng.choice(self.nodes)
        if fail:
            add(when, "WARN", "dfs.PendingReplicationMonitor", "replication-timeout",
                f"PendingReplicationMonitor timed out block {block}")  # fmt: skip
        add(when + 1, "INFO", "dfs.FSNamesystem", "ask-replicate",
            f"BLOCK* ask {source}:50010 to replicate {block} to datanode(s) {target}:50010")  # fmt: skip
        add(when + 2, "INFO", "dfs.DataNode", "transfer-start",
            f"{source}:50010 Starting thread to transfer block {block} to {target}:50010")  # fmt: skip
        if fail:
            add(when + 3, "WARN", "dfs.DataNode", "transfer-failed",
                f"{source}:50010:Failed to transfer {block} to {target}:50010 "
                f"got {rng.choice(_EXCEPTIONS)}")  # fmt: skip
            return
        add(when + 3, "INFO", "dfs.DataNode$DataTransfer", "transmitted",
            f"{source}:50010:Transmitted block {block} to /{target}:50010")  # fmt: skip
        add(when + 4, "INFO", "dfs.DataNode$DataXceiver", "received-transfer",
            f"Received block {block} src: /{source}:{rng.randrange(30000, 60000)} dest: /{target}:50010 "
            f"of size {size}")  # fmt: skip

    def _delete(
        self, add: Callable[..., None], block: str, targets: list[str], when: float, *, error: bool
    ) -> None:
        """``NameSystem.delete`` per replica now; ``ask … to delete`` batched per node; then the deletes."""
        rng = self.rng
        for node in targets:
            add(when, "INFO", "dfs.FSNamesystem", "invalidate",
                f"BLOCK* NameSystem.delete: {block} is added to invalidSet of {node}:50010")  # fmt: skip
            self.batches.setdefault(node, []).append((when, block))
            if error and node == targets[0]:
                add(when + 5, "WARN", "dfs.FSDataset", "delete-error",
                    f"Unexpected error trying to delete block {block}. "
                    "BlockInfo not found in volumeMap.")  # fmt: skip
            else:
                add(when + 5, "INFO", "dfs.FSDataset", "deleting",
                    f"Deleting block {block} file "
                    f"/mnt/hadoop/dfs/data/current/subdir{rng.randrange(64)}/{block}")  # fmt: skip
        self.flush_deletes(when)

    def flush_deletes(self, now: float) -> None:
        """One ``ask <node> to delete blk… blk…`` line per node batch of 3 (or all at the end)."""
        for node in list(self.batches):
            batch = self.batches[node]
            if len(batch) < 3 and now != float("inf"):
                continue
            del self.batches[node]
            blocks = tuple(b for _, b in batch)
            when = max(t for t, _ in batch) + 1
            self.emit(when, "INFO", "dfs.FSNamesystem", "ask-delete",
                      f"BLOCK* ask {node}:50010 to delete  {' '.join(blocks)}", blocks)  # fmt: skip


# ---------------------------------------------------------------------------- BGL

#: (component, level, event, message template); placeholders are filled by :func:`_bgl_values`.
_BGL_NORMAL = (
    ("KERNEL", "INFO", "cache-parity", "instruction cache parity error corrected"),
    (
        "KERNEL",
        "INFO",
        "ddr-errors",
        "{n} ddr error(s) detected and corrected on rank 0, symbol {sym}, bit {bit}",
    ),
    ("KERNEL", "INFO", "total-ddr", "total of {count} ddr error(s) detected and corrected"),
    ("KERNEL", "INFO", "generating-core", "generating core.{core}"),
    ("KERNEL", "INFO", "cpu-instruction", "CE sym {sym}, at 0x{address:08x}, mask 0x{byte:02x}"),
    (
        "APP",
        "INFO",
        "ciod-chdir",
        "ciod: LOGIN chdir(/p/gb1/user{user}/run{run}) failed: No such file or directory",
    ),
    ("APP", "INFO", "ciod-message", "ciod: Message code {n} is not {code} or 4222"),
    (
        "KERNEL",
        "INFO",
        "idoproxy",
        "idoproxydb hit ASSERT condition: ASSERT expression=0 Source file=idotransportmgr.cpp "
        "Source line={line} Function=int IdoTransportMgr::SendPacket(IdoUdpMgr*, BglCtlPavTrace*)",
    ),
    (
        "MMCS",
        "INFO",
        "bit-sparing",
        "MidplaneSwitchController performing bit sparing on R{rack:02d}-M{m} bit {sym}",
    ),
    (
        "KERNEL",
        "INFO",
        "tree-receiver",
        "tree receiver {m} in re-synch state event(s) (dcr 0x{dcr:04x}) detected",
    ),
    # look-alikes Drain merges (one token apart): the route's variants must tell them apart
    ("KERNEL", "INFO", "data-address", "data address: 0x{address:08x}"),
    ("KERNEL", "INFO", "instruction-address", "instruction address: 0x{address:08x}"),
    (
        "APP",
        "INFO",
        "ciod-load",
        "ciod: Error reading message prefix after LOAD_MESSAGE on CioStream socket to {ip}:{port}",
    ),
    (
        "APP",
        "INFO",
        "ciod-login",
        "ciod: Error reading message prefix after LOGIN_MESSAGE on CioStream socket to {ip}:{port}",
    ),
    ("KERNEL", "INFO", "alignment", "{count} floating point alignment exceptions"),
    (
        "KERNEL",
        "INFO",
        "machine-check",
        "machine check interrupt (bit=0x{byte:02x}): L2 dcache unit data parity error",
    ),
)
#: (alert category, component, level, event, message template).
_BGL_ALERTS = (
    ("KERNDTLB", "KERNEL", "FATAL", "data-tlb", "data TLB error interrupt"),
    ("KERNSTOR", "KERNEL", "FATAL", "data-storage", "data storage interrupt"),
    (
        "APPSEV",
        "APP",
        "FATAL",
        "ciod-socket",
        "ciod: failed to read message prefix on control stream (CioStream socket to {ip}:{port}",
    ),
    ("KERNMNTF", "KERNEL", "FATAL", "lustre-mount", "Lustre mount FAILED : bglio{io} : block_id : location"),
    (
        "KERNTERM",
        "KERNEL",
        "FATAL",
        "rts-terminated",
        "rts: kernel terminated for reason 1004rts: bad message header: invalid cpu, type={type}, cpu=2, "
        "index={index}, total=1",
    ),
    (
        "KERNREC",
        "KERNEL",
        "FATAL",
        "tree-packet",
        "Error receiving packet on tree network, expecting type 57 instead of type {n} "
        "(softheader=00000000 00000000 00000000 00000000)",
    ),
)


def _bgl_values(rng: random.Random) -> dict[str, int | str]:
    return {
        "n": rng.randrange(1, 9),
        "sym": rng.randrange(0, 40),
        "bit": rng.randrange(0, 8),
        "count": rng.randrange(1, 30),
        "core": rng.randrange(1, 9000),
        "address": rng.randrange(2**32),
        "byte": rng.randrange(256),
        "user": rng.randrange(1, 60),
        "run": rng.randrange(1, 900),
        "code": rng.randrange(51, 60),
        "line": rng.randrange(1000, 2000),
        "rack": rng.randrange(0, 80),
        "m": rng.randrange(0, 2),
        "dcr": rng.randrange(0, 0xFFFF),
        "ip": f"172.16.{rng.randrange(96, 128)}.{rng.randrange(1, 255)}",
        "port": rng.randrange(30000, 40000),
        "io": rng.randrange(1, 90),
        "type": rng.randrange(10000, 60000),
        "index": rng.randrange(10**9, 2 * 10**9),
    }


@dataclass
class BglLog:
    """A generated BGL-like log (``lines`` of RAS events; alert lines come in bursts)."""

    lines_count: int
    seed: int = 0
    burst_share: float = 0.002
    lines_per_second: float = 2.0

    def lines(self) -> Iterator[LogLine]:
        rng = random.Random(self.seed)  # noqa: S311 - reproducible test data, not a secret
        nodes = [_bgl_node(rng) for _ in range(300)]
        now = BGL_START.timestamp()
        burst_left = 0
        alert = _BGL_ALERTS[0]
        for _ in range(self.lines_count):
            now += rng.expovariate(self.lines_per_second)
            if burst_left == 0 and rng.random() < self.burst_share:
                burst_left = rng.randrange(5, 40)
                alert = rng.choice(_BGL_ALERTS)
            if burst_left > 0 and rng.random() < 0.7:
                burst_left -= 1
                label, component, level, event, message = alert
            else:
                component, level, event, message = rng.choice(_BGL_NORMAL)
                label = "-"
            text = _bgl_line(
                label, now, rng.choice(nodes), f"{component} {level}", message.format(**_bgl_values(rng))
            )
            yield LogLine(text, event)

    def write(self, log_path: Path) -> dict[str, int]:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        count = alerts = 0
        with log_path.open("w", encoding="utf-8", newline="\n") as out:
            for line in self.lines():
                out.write(line.text + "\n")
                count += 1
                alerts += not line.text.startswith("- ")
        return {"lines": count, "alert_lines": alerts}


def _bgl_node(rng: random.Random) -> str:
    rack, mid, card, slot, unit = (
        rng.randrange(80),
        rng.randrange(2),
        rng.randrange(16),
        rng.randrange(2, 18),
        rng.randrange(2),
    )
    return f"R{rack:02d}-M{mid}-N{card}-C:J{slot:02d}-U{unit}1"


def _bgl_line(label: str, when: float, node: str, source: str, message: str) -> str:
    moment = datetime.fromtimestamp(when, tz=UTC)
    stamp = f"{int(when)} {moment:%Y.%m.%d} {node} {moment:%Y-%m-%d-%H.%M.%S.%f} {node}"
    return f"{label} {stamp} RAS {source} {message}"


# ---------------------------------------------------------------------------- command line


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sentinel.loggen", description=__doc__.split("\n")[0])
    parser.add_argument("kind", choices=("hdfs", "bgl"))
    parser.add_argument("--out", type=Path, required=True, help="the log file to write")
    parser.add_argument("--labels", type=Path, help="HDFS: write BlockId,Label,Kind here")
    parser.add_argument("--blocks", type=int, default=10_000, help="HDFS: number of blocks")
    parser.add_argument("--lines", type=int, default=100_000, help="BGL: number of lines")
    parser.add_argument("--share", type=float, default=DEFAULT_SHARE, help="HDFS: anomalous block share")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.kind == "hdfs":
        summary = HdfsLog(args.blocks, args.seed, args.share).write(args.out, args.labels)
    else:
        summary = BglLog(args.lines, args.seed).write(args.out)
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
