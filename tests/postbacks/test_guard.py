"""The address guard (docs/spec.md §6): public addresses only, unless the allow-list says
otherwise."""

import pytest

from postbacks.delivery.guard import AddressGuard, AddressRefused

REFUSED = [
    "127.0.0.1",
    "127.255.255.254",
    "10.0.0.1",
    "172.16.5.4",
    "192.168.1.1",
    "169.254.169.254",
    "0.0.0.0",
    "100.64.0.1",
    "224.0.0.1",
    "255.255.255.255",
    "::1",
    "::",
    "fe80::1",
    "fc00::1",
    "ff02::1",
    "::ffff:127.0.0.1",
    "::ffff:10.0.0.1",
    "::127.0.0.1",
    "2002:7f00:1::",
    "64:ff9b::a00:1",
    "fe80::1%eth0",
]
PUBLIC = ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111", "::ffff:93.184.216.34"]


@pytest.mark.parametrize("address", REFUSED)
def test_non_public_addresses_are_refused_with_a_reason(address):
    guard = AddressGuard()
    reason = guard.refusal(address)
    assert reason and "public addresses only" in reason
    with pytest.raises(AddressRefused):
        guard.check(address)


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_pass(address):
    assert AddressGuard().refusal(address) is None


def test_allow_list_opens_exactly_its_ranges():
    guard = AddressGuard.from_cidrs(["127.0.0.0/8", " 10.1.0.0/16 ", ""])
    assert guard.refusal("127.0.0.1") is None
    assert guard.refusal("10.1.2.3") is None
    assert guard.refusal("10.2.0.1") is not None
    assert guard.refusal("::1") is not None


def test_mapped_form_follows_the_allow_list_of_its_ipv4_address():
    guard = AddressGuard.from_cidrs(["127.0.0.0/8"])
    assert guard.refusal("::ffff:127.0.0.1") is None
    assert guard.refusal("::ffff:10.0.0.1") is not None
