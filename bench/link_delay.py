"""A slow, lossy link for bench_ssh.py: delays (and drops) the packets an NFQUEUE rule hands it.

    ip netns exec NS python bench/link_delay.py --queue 1 --delay-ms 40 --loss 0.02 --port 2222

This machine's kernel has no netem; an iptables NFQUEUE rule on the namespace's loopback INPUT
gives every packet to this reader, which accepts it `--delay-ms` later (each direction crosses
INPUT once: the round trip is twice the delay) or drops it with probability `--loss` (TCP then
retransmits, as on a real lossy link). Reads "stats" lines on stdin and answers with one JSON
line of packets and bytes per direction (up: to `--port`, down: from it).
"""

from __future__ import annotations

import argparse
import heapq
import itertools
import json
import random
import select
import socket
import sys
import time

from netfilterqueue import NetfilterQueue, Packet  # type: ignore[import-not-found]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queue", type=int, default=1)
    parser.add_argument("--delay-ms", type=float, default=40.0)
    parser.add_argument("--loss", type=float, default=0.0)
    parser.add_argument("--port", type=int, default=2222)
    parser.add_argument("--seed", type=int, default=18)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    delay = args.delay_ms / 1000
    due: list[tuple[float, int, object]] = []  # (when, order, packet) to accept
    order = itertools.count()
    stats = {"up_packets": 0, "up_bytes": 0, "down_packets": 0, "down_bytes": 0, "dropped": 0}

    def queued(packet: Packet) -> None:
        payload = packet.get_payload()
        # IPv4: TCP ports at the IP header's length; dport 2222 is the client's way up.
        ihl = (payload[0] & 0x0F) * 4
        dport = int.from_bytes(payload[ihl + 2:ihl + 4], "big")
        way = "up" if dport == args.port else "down"
        stats[f"{way}_packets"] += 1
        stats[f"{way}_bytes"] += len(payload)
        if args.loss and rng.random() < args.loss:
            stats["dropped"] += 1
            packet.drop()
            return
        packet.retain()
        heapq.heappush(due, (time.monotonic() + delay, next(order), packet))

    nfq = NetfilterQueue()
    nfq.bind(args.queue, queued, max_len=4096)
    sock = socket.fromfd(nfq.get_fd(), socket.AF_UNIX, socket.SOCK_STREAM)
    print("ready", flush=True)
    try:
        while True:
            timeout = max(0.0, due[0][0] - time.monotonic()) if due else 1.0
            ready, _, _ = select.select([sock, sys.stdin], [], [], timeout)
            if sock in ready:
                nfq.run(block=False)
            if sys.stdin in ready:
                line = sys.stdin.readline()
                if not line:
                    break
                print(json.dumps(stats), flush=True)
            now = time.monotonic()
            while due and due[0][0] <= now:
                heapq.heappop(due)[2].accept()
    finally:
        nfq.unbind()


if __name__ == "__main__":
    main()
