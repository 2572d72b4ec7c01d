# Copyright (c) 2026 multicloud.vpn contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Property tests of the inside CIDR allocator, checked against a brute-force oracle."""

from __future__ import annotations

import pytest

from ansible_collections.multicloud.vpn.plugins.module_utils._plan import (
    AZURE_APIPA_RANGE,
    RESERVED_INSIDE_CIDRS,
    PlanError,
    allocate_inside_cidrs,
    plan_aws_azure,
    plan_aws_gcp,
    validate_inside_cidr,
)

hypothesis = pytest.importorskip('hypothesis')
strategies = hypothesis.strategies
netaddr = pytest.importorskip('netaddr')

SETTINGS = hypothesis.settings(max_examples=150, deadline=None, suppress_health_check=[hypothesis.HealthCheck.too_slow])
LINK_LOCAL = netaddr.IPNetwork('169.254.0.0/16')
APIPA_FIRST = int(netaddr.IPAddress(AZURE_APIPA_RANGE[0]))
APIPA_LAST = int(netaddr.IPAddress(AZURE_APIPA_RANGE[1]))
RESERVED = [netaddr.IPNetwork(cidr) for cidr in RESERVED_INSIDE_CIDRS]


def _block(offset, prefix):
    """The aligned block of size /prefix containing 169.254.0.0 + offset."""
    return str(netaddr.IPNetwork('%s/%d' % (netaddr.IPAddress(LINK_LOCAL.first + offset), prefix)).cidr)


def _ranges_overlap(first, second):
    return first.first <= second.last and second.first <= first.last


offsets = strategies.integers(min_value=0, max_value=2 ** 16 - 1)
# Pools: fixed interesting ones (holding reserved blocks, Azure's range) and random ones.
pools = strategies.one_of(
    strategies.sampled_from(['169.254.0.0/16', '169.254.0.0/24', '169.254.169.0/24', '169.254.0.0/28', '169.254.21.0/24', '169.254.22.0/26']),
    strategies.builds(_block, offsets, strategies.integers(min_value=22, max_value=29)),
)
taken_blocks = strategies.lists(strategies.builds(_block, offsets, strategies.integers(min_value=26, max_value=32)), max_size=12)
slot_requests = strategies.lists(strategies.one_of(strategies.none(), strategies.builds(_block, offsets, strategies.just(30))), max_size=8)


def _oracle(pool, taken, requested):
    """What the allocator must return: explicit ones kept, the rest the lowest free /30s in order."""
    used = [netaddr.IPNetwork(cidr) for cidr in taken] + [netaddr.IPNetwork(cidr) for cidr in requested if cidr]
    expected = []
    candidates = (candidate for candidate in netaddr.IPNetwork(pool).subnet(30))
    for cidr in requested:
        if cidr:
            expected.append(cidr)
            continue
        for candidate in candidates:
            if any(_ranges_overlap(candidate, other) for other in used + RESERVED):
                continue
            used.append(candidate)
            expected.append(str(candidate))
            break
        else:
            return None  # pool exhausted
    return expected


def _usable_requests(requested, taken):
    """Drop explicit requests that would be refused, so each example exercises allocation."""
    kept, seen = [], [netaddr.IPNetwork(cidr) for cidr in taken]
    for cidr in requested:
        if cidr is None or netaddr.IPNetwork(cidr) in RESERVED or any(_ranges_overlap(netaddr.IPNetwork(cidr), other) for other in seen):
            kept.append(None)
        else:
            kept.append(cidr)
            seen.append(netaddr.IPNetwork(cidr))
    return kept


def _check_allocation(result, pool, taken, requested, azure):
    assert len(result) == len(requested)
    networks = [netaddr.IPNetwork(cidr) for cidr in result]
    for cidr, network in zip(result, networks):
        assert validate_inside_cidr(cidr, 'result', azure=azure) == cidr  # /30, in 169.254/16, never reserved
        assert network not in RESERVED
    for index, network in enumerate(networks):
        for other in networks[index + 1:]:
            assert not _ranges_overlap(network, other)
        for other in taken:
            assert not _ranges_overlap(network, netaddr.IPNetwork(other))
    pool_network = netaddr.IPNetwork(pool) if pool else None
    for cidr, wanted, network in zip(result, requested, networks):
        if wanted:
            assert cidr == wanted
        elif pool_network is not None:
            assert pool_network.first <= network.first and network.last <= pool_network.last
        if azure:
            assert APIPA_FIRST <= network.first and network.last <= APIPA_LAST


@SETTINGS
@hypothesis.given(pool=pools, taken=taken_blocks, requested=slot_requests)
def test_allocator_properties(pool, taken, requested):
    requested = _usable_requests(requested, taken)
    expected = _oracle(pool, taken, requested)
    if expected is None:
        with pytest.raises(PlanError, match='no free /30 left in %s' % pool):
            allocate_inside_cidrs(len(requested), pool=pool, taken=taken, requested=requested)
        return
    result = allocate_inside_cidrs(len(requested), pool=pool, taken=taken, requested=requested)
    _check_allocation(result, pool, taken, requested, azure=False)
    assert result == expected
    # Deterministic, and independent of the order `taken` is listed in.
    assert allocate_inside_cidrs(len(requested), pool=pool, taken=list(reversed(taken)), requested=list(requested)) == result


@SETTINGS
@hypothesis.given(taken=taken_blocks, count=strategies.integers(min_value=0, max_value=8))
def test_azure_allocations_stay_in_apipa_range(taken, count):
    try:
        result = allocate_inside_cidrs(count, taken=taken, azure=True)
    except PlanError as error:
        assert 'no free /30 left' in str(error)
        return
    _check_allocation(result, None, taken, [None] * count, azure=True)


@SETTINGS
@hypothesis.given(requested=slot_requests, taken=taken_blocks)
def test_conflicting_requests_are_refused_with_variable_name(requested, taken):
    try:
        result = allocate_inside_cidrs(len(requested), taken=taken, requested=requested, variable='inside_cidrs')
    except PlanError as error:
        assert str(error).startswith('inside_cidrs[')
        return
    _check_allocation(result, '169.254.0.0/16', taken, requested, azure=False)


@SETTINGS
@hypothesis.given(tunnels=strategies.sampled_from([1, 2, 4]), taken=taken_blocks)
def test_aws_gcp_plan_inside_cidrs_unique_and_free(tunnels, taken):
    plan = plan_aws_gcp(tunnels=tunnels, amazon_asn=64512, gcp_asn=65000, taken=taken)
    cidrs = [tunnel['inside_cidr'] for tunnel in plan['tunnels']]
    _check_allocation(cidrs, '169.254.0.0/16', taken, [None] * len(cidrs), azure=False)
    assert sum(tunnel['used'] for tunnel in plan['tunnels']) == tunnels


@SETTINGS
@hypothesis.given(mode=strategies.sampled_from(['static', 'bgp']), taken=taken_blocks)
def test_aws_azure_plan_inside_cidrs_unique_free_and_apipa(mode, taken):
    plan = plan_aws_azure(mode=mode, amazon_asn=64512, taken=taken)
    cidrs = [tunnel['inside_cidr'] for tunnel in plan['tunnels']]
    _check_allocation(cidrs, None, taken, [None] * len(cidrs), azure=True)
