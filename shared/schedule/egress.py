"""Where webhooks may go: addresses outside this network, unless the operator allows more.

A webhook URL comes from an API caller, and the `jobs` process POSTs to it from inside the
deployment: without a guard it could reach Redis, the cloud's metadata service or any
internal host. So at send time the host is resolved, every address that is not globally
routable (loopback, private, link-local, multicast, unique-local, reserved...) is dropped
unless `MEMANTO_WEBHOOK_ALLOW` names it, and the request is sent to the address that was
checked: a second lookup by the HTTP client could answer differently (DNS rebinding).
The request goes to the IP, with the name in the Host header and as the TLS server name
(so the certificate is still checked against the name); no proxy, no redirects.

Each attempt ends in a coarse outcome (`Attempt.error`), never an exception's text: the
run record is shown to API callers, and a message naming internal hosts or ports would
turn the webhook into a probe of the network.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
# What socket.getaddrinfo returns: (family, type, proto, canonname, sockaddr).
AddrInfo = tuple[Any, Any, Any, str, tuple[Any, ...]]
Resolver = Callable[[str, int], Sequence[AddrInfo]]

# IPv6 addresses that carry an IPv4 one a packet may end up at: NAT64 (RFC 6052), besides
# IPv4-mapped and 6to4 ones, which ipaddress unwraps.
NAT64 = ipaddress.IPv6Network("64:ff9b::/96")

# Coarse outcomes of an attempt that did not deliver (http_3xx/4xx/5xx besides).
REFUSED = "refused"  # no address the policy allows: not retried
UNRESOLVED = "unresolved"  # the name did not resolve
TIMEOUT = "timeout"
CONNECT_ERROR = "connect_error"  # nothing listening, unreachable, TLS handshake failed
NETWORK_ERROR = "network_error"  # the connection broke, or the answer was not HTTP


@dataclass(frozen=True, slots=True)
class Allow:
    """The operator's allow-list: networks whose addresses may be reached although they
    are internal, and host names whose every address may be."""

    networks: tuple[Network, ...] = ()
    names: frozenset[str] = frozenset()

    @classmethod
    def parse(cls, entries: Iterable[str]) -> Allow:
        """From `MEMANTO_WEBHOOK_ALLOW`'s entries: IPs, CIDRs or host names (ValueError
        for an entry that is none of them)."""
        networks: list[Network] = []
        names: set[str] = set()
        for entry in entries:
            entry = entry.strip().lower().strip("[]")
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                if not _host_name(entry):
                    raise ValueError(f"{entry!r} is neither an IP, a CIDR nor a host name"
                                     ) from None
                names.add(entry.rstrip("."))
        return cls(tuple(networks), frozenset(names))

    def admits(self, host: str, address: Address) -> bool:
        """Whether a request for `host` may go to `address`."""
        if not internal(address) or _name(host) in self.names:
            return True
        # (an IPv4 address is in no IPv6 network, and the reverse)
        return any(address in net for net in self.networks)


def _host_name(text: str) -> bool:
    labels = text.rstrip(".").split(".")
    return len(text) <= 253 and all(
        0 < len(label) <= 63 and label.replace("-", "").replace("_", "").isalnum()
        and label.isascii() for label in labels)


def _name(host: str) -> str:
    return host.lower().rstrip(".")


def internal(address: Address) -> bool:
    """Whether `address` is anything but a globally routable unicast address. An IPv6
    address that embeds an IPv4 one (mapped, 6to4, NAT64) is judged by the IPv4 inside."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        elif address.sixtofour is not None:
            address = address.sixtofour
        elif address in NAT64:
            address = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        elif address.is_site_local:
            return True
    return (not address.is_global or address.is_multicast or address.is_reserved
            or address.is_unspecified)


def literal(host: str) -> Address | None:
    """The address a URL's host spells directly, in any form the system resolver reads
    as one (`127.1`, `0x7f000001` and `2130706433` are 127.0.0.1); None for a name."""
    host = host.strip("[]").split("%", 1)[0]  # an IPv6 zone does not change the address
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        return None


def check_literal(host: str, allow: Allow) -> None:
    """At schedule creation: ValueError when the host is an internal address the allow-list
    does not name. Names are judged when sent (what they resolve to then is what counts)."""
    address = literal(host)
    if address is not None and not allow.admits(host, address):
        raise ValueError(f"webhook_url points at an internal address ({address}), which "
                         "this server does not send webhooks to")


def choose(host: str, infos: Iterable[AddrInfo], allow: Allow) -> Address | None:
    """The first resolved address the policy admits, None when there is none."""
    for info in infos:
        try:
            address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        except ValueError:
            continue
        if allow.admits(host, address):
            return address
    return None


def system_resolver(host: str, port: int) -> Sequence[AddrInfo]:
    return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)


@dataclass(frozen=True, slots=True)
class Attempt:
    """How one POST went: `error` None when the receiver answered 2xx."""

    http_status: int | None
    error: str | None

    @property
    def final(self) -> bool:
        """A refusal is the policy's answer, the same on every retry."""
        return self.error == REFUSED


def post(url: str, content: bytes, headers: dict[str, str], timeout: float, allow: Allow,
         resolver: Resolver = system_resolver, verify: ssl.SSLContext | bool = True
         ) -> Attempt:
    """POST `content` to `url` at an address the policy admits, checked once and used.
    `verify`: how https certificates are checked (default: the system's CAs)."""
    try:
        target = httpx.URL(url)
        host = target.raw_host.decode("ascii")  # IDNA-encoded, as DNS and TLS spell it
        port = target.port or (443 if target.scheme == "https" else 80)
        address = choose(host, resolver(host, port), allow)
    # OSError: no such name; UnicodeError: a label the resolver refuses (over 63
    # characters); httpx.InvalidURL: not a URL at all.
    except (OSError, UnicodeError, ValueError, httpx.InvalidURL):
        return Attempt(None, UNRESOLVED)
    if address is None:
        return Attempt(None, REFUSED)
    extensions = {}
    if target.scheme == "https" and literal(host) is None:
        extensions["sni_hostname"] = host
    pinned = target.copy_with(host=str(address))
    # trust_env=False: no proxy from HTTP(S)_PROXY (a proxy would resolve the name again,
    # and may itself be internal), no .netrc credentials.
    with httpx.Client(trust_env=False, follow_redirects=False, timeout=timeout,
                      verify=verify) as client:
        try:
            request = client.build_request(
                "POST", pinned, content=content, extensions=extensions,
                headers={**headers, "Host": target.netloc.decode("ascii")})
            # The answer's body is never read: only its status counts, and a receiver
            # could send gigabytes.
            response = client.send(request, stream=True)
            status = response.status_code
            response.close()
        except httpx.TimeoutException:
            return Attempt(None, TIMEOUT)
        except httpx.ConnectError:
            return Attempt(None, CONNECT_ERROR)
        except httpx.HTTPError:
            return Attempt(None, NETWORK_ERROR)
    return Attempt(status, None if 200 <= status < 300 else f"http_{status // 100}xx")
