"""The address rule for every fetch (CLI, API, bot): never loopback, link-local, private, shared,
multicast, reserved or cloud-metadata addresses, unless the operator lists their network in
``KIJI_FETCH_ALLOWED_NETWORKS``.

The rule is applied to the addresses a host name resolves to, and the fetcher then connects to the
address that was checked (not to the name again), so a DNS answer that changes between the check
and the connection (DNS rebinding) cannot slip through. It is applied again after every redirect.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Sequence
from dataclasses import dataclass

from kiji.errors import FetchFailed, InvalidInput, PageUnusable

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

#: Cloud metadata services, named in refusals (they are link-local or private, so refused anyway).
_METADATA = {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254"),
             ipaddress.ip_address("100.100.100.200")}


def parse_networks(text: str) -> tuple[IPNetwork, ...]:
    """``"127.0.0.0/8, ::1/128"`` → networks; a malformed entry is bad input, named."""
    nets: list[IPNetwork] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        try:
            nets.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise InvalidInput(f"KIJI_FETCH_ALLOWED_NETWORKS: {part!r} is not a network (CIDR such as "
                               "127.0.0.0/8)") from None
    return tuple(nets)


def kind_of(ip: IPAddress) -> str | None:
    """Why kiji does not fetch from ``ip`` by default, or None for a public address."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return kind_of(ip.ipv4_mapped)
    if ip in _METADATA:
        return "a cloud metadata address"
    for test, name in ((ip.is_loopback, "a loopback address"), (ip.is_link_local, "a link-local address"),
                       (ip.is_unspecified, "an unspecified address"), (ip.is_multicast, "a multicast address"),
                       (ip.is_private, "a private address"), (ip.is_reserved, "a reserved address")):
        if test:
            return name
    if not ip.is_global:  # 100.64.0.0/10 (carrier-grade NAT) and other non-public ranges
        return "a non-public address"
    return None


@dataclass(frozen=True, slots=True)
class AddressGuard:
    allowed: tuple[IPNetwork, ...] = ()

    def check(self, ip: IPAddress, url: str) -> None:
        kind = kind_of(ip)
        if kind is None or any(ip.version == net.version and ip in net for net in self.allowed):
            return
        raise PageUnusable(f"{url}: refused to fetch from {ip}, {kind}",
                           hint="kiji fetches only public addresses unless KIJI_FETCH_ALLOWED_NETWORKS "
                                "lists the network")

    def resolve(self, host: str, port: int, url: str) -> IPAddress:
        """The first address of ``host`` after checking every one of them (a name that resolves to
        a public and a private address is refused: which one a client picks is not ours to say)."""
        try:
            literal: IPAddress | None = ipaddress.ip_address(host.strip("[]"))
        except ValueError:
            literal = None
        if literal is not None:
            addresses: Sequence[IPAddress] = [literal]
        else:
            try:
                infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            except (socket.gaierror, UnicodeError) as exc:
                raise FetchFailed(f"{url}: cannot resolve host {host!r} ({exc})",
                                  hint="check the URL and the network's DNS") from None
            addresses = list(dict.fromkeys(ipaddress.ip_address(str(info[4][0]).split("%")[0])
                                           for info in infos))
            if not addresses:
                raise FetchFailed(f"{url}: host {host!r} has no address")
        for ip in addresses:
            self.check(ip, url)
        return addresses[0]
