"""Which addresses a postback may reach (docs/spec.md §6): public ones, plus an explicit allow-list.

The check runs on the address a connection is about to use, after DNS resolution, so a name that
resolves to a private address is refused and a rebinding between check and connect cannot happen.
"""

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Prefixes that embed an IPv4 address in an IPv6 one; the embedded address is judged as well.
_NAT64 = (ipaddress.IPv6Network("64:ff9b::/96"), ipaddress.IPv6Network("64:ff9b:1::/48"))
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")


class AddressRefused(OSError):
    """The receiver's address is not public and not allowed by POSTBACK_ALLOWED_NETWORKS."""


def parse_networks(cidrs: Iterable[str]) -> tuple[IPNetwork, ...]:
    return tuple(ipaddress.ip_network(c.strip(), strict=False) for c in cidrs if c.strip())


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    for net in _NAT64:
        if ip in net:
            return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip in _IPV4_COMPATIBLE and int(ip) > 1:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


@dataclass(frozen=True)
class AddressGuard:
    allowed: tuple[IPNetwork, ...] = field(default=())

    @classmethod
    def from_cidrs(cls, cidrs: Iterable[str]) -> "AddressGuard":
        return cls(allowed=parse_networks(cidrs))

    def _is_allowed(self, ip: IPAddress) -> bool:
        return any(ip.version == net.version and ip in net for net in self.allowed)

    def refusal(self, address: str) -> str | None:
        """None when a postback may connect to `address`, else the reason it may not."""
        try:
            ip = ipaddress.ip_address(address.split("%", 1)[0])
        except ValueError:
            return f"{address!r} is not an IP address"
        if self._is_allowed(ip):
            return None
        if isinstance(ip, ipaddress.IPv6Address):
            embedded = _embedded_ipv4(ip)
            if embedded is not None:
                inner = self.refusal(str(embedded))
                return f"{ip} embeds {embedded}: {inner}" if inner else None
        if ip.is_loopback:
            kind = "loopback"
        elif ip.is_unspecified:
            kind = "unspecified"
        elif ip.is_link_local:
            kind = "link-local"
        elif ip.is_multicast:
            kind = "multicast"
        elif ip.is_private:
            kind = "private"
        elif ip.is_reserved or not ip.is_global:
            kind = "reserved"
        else:
            return None
        article = "an" if kind[0] in "aeiou" else "a"
        return f"{ip} is {article} {kind} address; postbacks go to public addresses only"

    def check(self, address: str) -> None:
        reason = self.refusal(address)
        if reason:
            raise AddressRefused(reason)
