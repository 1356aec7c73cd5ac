"""A small authoritative DNS server on a local UDP port, speaking DNS's real wire protocol (dnspython's message
codec), so code under test resolves through dnspython's real resolver exactly as it would against the Internet.

    with FakeDns({("moh.gov.sg", "TXT"): ['v=spf1 include:amazonses.com -all']}) as dns:
        resolver.nameservers, resolver.port = ["127.0.0.1"], dns.port

Names without records answer NXDOMAIN; a name with records of another type answers NOERROR with no answer.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Mapping, Sequence

import dns.flags
import dns.message
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset


def _quoted(text: str) -> str:
    """A TXT value as zone-file text: split into 255-byte strings, each quoted."""
    raw = text.encode()
    chunks = [raw[i:i + 255] for i in range(0, len(raw), 255)] or [b""]
    return " ".join('"' + chunk.decode().replace("\\", "\\\\").replace('"', '\\"') + '"' for chunk in chunks)


class FakeDns:
    def __init__(self, records: Mapping[tuple[str, str], Sequence[str]]) -> None:
        self.records = {(name.lower().rstrip("."), kind.upper()): list(values)
                        for (name, kind), values in records.items()}
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._socket.bind(("127.0.0.1", 0))
        self.port = self._socket.getsockname()[1]
        self.address = f"127.0.0.1:{self.port}"
        self.queries: list[tuple[str, str]] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._stopping = threading.Event()

    def _answer(self, wire: bytes) -> bytes:
        query = dns.message.from_wire(wire)
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        question = query.question[0]
        name = question.name.to_text().lower().rstrip(".")
        kind = dns.rdatatype.to_text(question.rdtype)
        self.queries.append((name, kind))
        values = self.records.get((name, kind))
        if values:
            texts = [_quoted(v) if kind == "TXT" else (v if v.endswith(".") or kind != "CNAME" else v + ".")
                     for v in values]
            response.answer.append(dns.rrset.from_text_list(question.name, 300, dns.rdataclass.IN, kind, texts))
        elif not any(known == name for known, _ in self.records):
            response.set_rcode(dns.rcode.NXDOMAIN)
        return response.to_wire()

    def _serve(self) -> None:
        self._socket.settimeout(0.2)
        while not self._stopping.is_set():
            try:
                wire, peer = self._socket.recvfrom(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            self._socket.sendto(self._answer(wire), peer)

    def __enter__(self) -> "FakeDns":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopping.set()
        self._thread.join(timeout=2)
        self._socket.close()
