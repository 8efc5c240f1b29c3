"""Where webhooks may go (shared/schedule/egress.py). The address check is tested on literal
addresses and on resolver answers given to it; requests are only ever sent to receivers on
the loopback, which the policy refuses unless allowed. Nothing here leaves the machine:
names are `localhost` (resolved from /etc/hosts) or resolved by a resolver the test passes."""

from __future__ import annotations

import ipaddress
import socket
import ssl

import pytest

from memanto_redis.shared.schedule import egress
from memanto_redis.shared.schedule.egress import Allow, choose, internal, literal
from tests.support import WebhookReceiver, certificate, free_port, loopback_http

LOOPBACK = Allow.parse(["127.0.0.1"])


@pytest.mark.parametrize("address", [
    "127.0.0.1", "127.255.0.9", "0.0.0.0", "10.1.2.3", "172.16.0.1", "192.168.1.1",
    "169.254.169.254",  # cloud metadata (AWS, GCP, Azure)
    "100.100.100.200",  # Alibaba's metadata, in the shared (CGNAT) range
    "169.254.1.1", "224.0.0.1", "239.255.255.250", "255.255.255.255", "192.0.2.10",
    "::1", "::", "fe80::1", "fc00::1", "fd00:ec2::254",  # AWS's IPv6 metadata
    "ff02::1", "fec0::1",
    "::ffff:127.0.0.1", "::ffff:169.254.169.254",  # IPv4-mapped
    "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
    "2002:7f00:1::1",  # 6to4 of 127.0.0.1
    "::7f00:1",  # IPv4-compatible (deprecated)
])
def test_internal_addresses(address):
    assert internal(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["8.8.8.8", "93.184.215.14", "2606:4700:4700::1111",
                                     "2a00:1450:4001::200e"])
def test_public_addresses(address):
    assert not internal(ipaddress.ip_address(address))


def test_literal_hosts_in_every_spelling_the_resolver_reads():
    loopback = ipaddress.ip_address("127.0.0.1")
    for host in ("127.0.0.1", "127.1", "0x7f000001", "2130706433", "0177.0.0.1"):
        assert literal(host) == loopback, host
    assert literal("[::1]") == ipaddress.ip_address("::1")
    assert literal("fe80::1%25eth0") == ipaddress.ip_address("fe80::1")
    assert literal("example.com") is None and literal("1e100.net") is None


def test_allow_list():
    allow = Allow.parse(["10.0.0.0/8", " [::1] ", "fd00::/8", "Hooks.Internal.", ""])
    assert allow.admits("x", ipaddress.ip_address("10.9.9.9"))
    assert allow.admits("x", ipaddress.ip_address("::1"))
    assert allow.admits("x", ipaddress.ip_address("fd12::1"))
    assert allow.admits("x", ipaddress.ip_address("8.8.8.8"))  # public: always
    assert not allow.admits("x", ipaddress.ip_address("127.0.0.1"))
    # A named host may resolve to any address; other names may not reach it.
    assert allow.admits("hooks.internal", ipaddress.ip_address("192.168.0.4"))
    assert not allow.admits("other.internal", ipaddress.ip_address("192.168.0.4"))
    for bad in ("bad host", "10.0.0.0/33", "-", "a..b"):
        with pytest.raises(ValueError):
            Allow.parse([bad])


def test_check_literal_at_creation():
    for host in ("127.0.0.1", "169.254.169.254", "::1", "[fd00::1]", "0x7f000001", "10.0.0.1"):
        with pytest.raises(ValueError, match="internal address"):
            egress.check_literal(host, Allow())
    egress.check_literal("127.0.0.1", LOOPBACK)
    egress.check_literal("93.184.215.14", Allow())
    egress.check_literal("localhost", Allow())  # a name: judged when sent


def info(address: str, port: int = 443) -> egress.AddrInfo:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    sockaddr = (address, port, 0, 0) if family == socket.AF_INET6 else (address, port)
    return (family, socket.SOCK_STREAM, 6, "", sockaddr)


def test_choose_among_resolved_addresses():
    public = ipaddress.ip_address("93.184.215.14")
    # A name that resolves to internal addresses only is refused, in any family.
    assert choose("evil.example", [info("169.254.169.254"), info("fd00:ec2::254")],
                  Allow()) is None
    assert choose("evil.example", [info("::ffff:10.0.0.1")], Allow()) is None
    # Mixed answers: only a checked public address is used.
    assert choose("mixed.example", [info("10.0.0.5"), info("93.184.215.14")], Allow()) == public
    assert choose("v6.example", [info("fe80::1%eth0"), info("2606:4700:4700::1111")],
                  Allow()) == ipaddress.ip_address("2606:4700:4700::1111")
    assert choose("lo.example", [info("::1"), info("127.0.0.1")],
                  LOOPBACK) == ipaddress.ip_address("127.0.0.1")
    assert choose("hooks.internal", [info("10.0.0.5")],
                  Allow.parse(["hooks.internal"])) == ipaddress.ip_address("10.0.0.5")


def send(url: str, allow: Allow, resolver: egress.Resolver = egress.system_resolver,
         timeout: float = 5) -> egress.Attempt:
    return egress.post(url, b"{}", {"Content-Type": "application/json"}, timeout, allow,
                       resolver)


def test_loopback_is_refused_unless_allowed(receiver):
    for host in ("127.0.0.1", "localhost", "[::1]", "127.1"):
        attempt = send(f"http://{host}:{receiver}/ok", Allow())
        assert attempt == egress.Attempt(None, egress.REFUSED) and attempt.final, host
    assert WebhookReceiver.seen == []
    assert send(f"http://localhost:{receiver}/ok", LOOPBACK) == egress.Attempt(200, None)
    assert send(f"http://localhost:{receiver}/ok",
                Allow.parse(["localhost"])) == egress.Attempt(200, None)
    assert len(WebhookReceiver.seen) == 2


def test_the_checked_address_is_the_one_connected_to(receiver):
    """The name is resolved once, by the resolver given; the request goes to the address
    it gave, with the name in the Host header (`.invalid` never resolves anywhere)."""
    calls = []

    def rebinding(host: str, port: int) -> list[egress.AddrInfo]:
        calls.append((host, port))
        # The first answer is the one checked; any later one would point elsewhere (another
        # loopback address, refused by the allow-list: a test never connects outside).
        return [info("127.0.0.1" if len(calls) == 1 else "127.0.0.2", port)]

    attempt = send(f"http://hooks.example.invalid:{receiver}/ok?x=1", LOOPBACK, rebinding)
    assert attempt == egress.Attempt(200, None)
    assert calls == [("hooks.example.invalid", receiver)]
    (request,) = WebhookReceiver.seen
    assert request["path"] == "/ok?x=1"
    assert request["Host"] == f"hooks.example.invalid:{receiver}"


def test_coarse_outcomes(receiver):
    assert send(f"http://localhost:{receiver}/fail", LOOPBACK) == egress.Attempt(500, "http_5xx")
    # Redirects are not followed: /ok is not asked.
    assert send(f"http://localhost:{receiver}/moved", LOOPBACK) == egress.Attempt(302, "http_3xx")
    assert [s["path"] for s in WebhookReceiver.seen] == ["/fail", "/moved"]
    assert send(f"http://localhost:{receiver}/slow", LOOPBACK, timeout=0.5) == egress.Attempt(
        None, egress.TIMEOUT)
    assert send(f"http://localhost:{free_port()}/ok", LOOPBACK) == egress.Attempt(
        None, egress.CONNECT_ERROR)

    def unknown(host: str, port: int) -> list[egress.AddrInfo]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    attempt = send("https://nowhere.example.invalid/hook", Allow(), unknown)
    assert attempt == egress.Attempt(None, egress.UNRESOLVED) and not attempt.final
    # A label longer than DNS allows fails while the name is encoded (UnicodeError), before
    # any lookup leaves the machine: an outcome, not an exception out of the job.
    too_long = f"https://{'a' * 64}.example.invalid/hook"
    assert send(too_long, Allow(), egress.system_resolver) == egress.Attempt(
        None, egress.UNRESOLVED)


def test_https_to_the_checked_address_verifies_the_name(tmp_path):
    """Sent to the IP that was checked, the TLS handshake still names the host (SNI) and
    the certificate is verified against that name, not the IP."""
    name = "hooks.example.invalid"
    cert, key = certificate(name)
    (tmp_path / "cert.pem").write_bytes(cert)
    (tmp_path / "key.pem").write_bytes(key)
    served = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    served.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    names: list[str | None] = []
    served.sni_callback = lambda sock, server_name, context: names.append(server_name)
    WebhookReceiver.seen = []
    trusting = ssl.create_default_context(cadata=cert.decode())

    def resolver(host: str, port: int) -> list[egress.AddrInfo]:
        return [info("127.0.0.1", port)]

    with loopback_http(WebhookReceiver, tls=served) as server:
        url = f"https://{name}:{server.server_port}/ok"
        assert egress.post(url, b"{}", {}, 5, LOOPBACK, resolver, trusting) == egress.Attempt(
            200, None)
        assert names == [name]
        assert WebhookReceiver.seen[0]["Host"] == f"{name}:{server.server_port}"
        # A name the certificate does not hold fails the handshake, at the same address.
        other = f"https://other.example.invalid:{server.server_port}/ok"
        assert egress.post(other, b"{}", {}, 5, LOOPBACK, resolver, trusting) == egress.Attempt(
            None, egress.CONNECT_ERROR)
        assert len(WebhookReceiver.seen) == 1
