//! `allow_ips` and `trusted_proxies`: which client addresses a source accepts, and who the
//! client is when hookwatch sits behind a proxy.
//!
//! The client is the peer address, unless the peer is a trusted proxy: then it is the
//! right-most `X-Forwarded-For` entry that is not itself a trusted proxy. Entries to the left
//! of that one were written by the client and prove nothing, and a header sent by a peer that
//! is not trusted is ignored, so a sender cannot claim an allowed address by writing one.
//!
//! A list of networks is kept as sorted, merged address ranges, so a check is a binary search
//! whatever the length of the list. CIDR parsing is `ipnet`'s.

use std::net::IpAddr;
use std::str::FromStr;

use ipnet::IpNet;

use crate::model::Header;

/// A set of networks, parsed from CIDR strings (`203.0.113.0/24`, `2001:db8::/32`); a bare
/// address counts as a network of that one address.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Networks {
    /// Inclusive ranges, sorted and merged. IPv4 addresses are kept as IPv4-mapped IPv6, so
    /// one list serves both families.
    ranges: Vec<(u128, u128)>,
}

/// An entry that is not a CIDR (or an address).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a CIDR like 203.0.113.0/24 or 2001:db8::/32")]
pub struct NotCidr(pub String);

impl Networks {
    /// Parses every entry; the error names the first that is not a CIDR.
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<Networks, NotCidr> {
        let mut ranges = Vec::with_capacity(entries.len());
        for entry in entries {
            let text = entry.as_ref().trim();
            let net = IpNet::from_str(text)
                .or_else(|_| IpAddr::from_str(text).map(IpNet::from))
                .map_err(|_| NotCidr(entry.as_ref().to_string()))?;
            ranges.push((key(net.network()), key(net.broadcast())));
        }
        ranges.sort_unstable();
        let mut merged: Vec<(u128, u128)> = Vec::with_capacity(ranges.len());
        for (start, end) in ranges {
            match merged.last_mut() {
                Some(last) if start <= last.1.saturating_add(1) => last.1 = last.1.max(end),
                _ => merged.push((start, end)),
            }
        }
        Ok(Networks { ranges: merged })
    }

    /// Whether `addr` is in one of the networks.
    pub fn contains(&self, addr: IpAddr) -> bool {
        let k = key(addr);
        let after = self.ranges.partition_point(|&(start, _)| start <= k);
        after > 0 && self.ranges[after - 1].1 >= k
    }

    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }
}

/// The address as a number on one line for both families (IPv4 as IPv4-mapped IPv6).
fn key(addr: IpAddr) -> u128 {
    match addr.to_canonical() {
        IpAddr::V4(v4) => u128::from(v4.to_ipv6_mapped()),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

/// The client address of a request: see the module doc. `None` when the peer is a trusted
/// proxy and the right-most untrusted `X-Forwarded-For` entry is not an address.
pub fn client_address(peer: IpAddr, headers: &[Header], trusted: &Networks) -> Option<IpAddr> {
    let peer = peer.to_canonical();
    if !trusted.contains(peer) {
        return Some(peer);
    }
    let entries: Vec<&str> = headers
        .iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case("x-forwarded-for"))
        .flat_map(|(_, value)| value.split(','))
        .map(str::trim)
        .collect();
    let mut client = peer;
    for entry in entries.iter().rev() {
        let addr = parse_entry(entry)?;
        client = addr;
        if !trusted.contains(addr) {
            break;
        }
    }
    Some(client)
}

/// An `X-Forwarded-For` entry: an address, possibly with a port (`1.2.3.4:80`, `[::1]:80`).
fn parse_entry(entry: &str) -> Option<IpAddr> {
    IpAddr::from_str(entry)
        .ok()
        .or_else(|| std::net::SocketAddr::from_str(entry).ok().map(|s| s.ip()))
        .map(|a| a.to_canonical())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn xff(value: &str) -> Vec<Header> {
        vec![("x-forwarded-for".into(), value.into())]
    }

    #[test]
    fn an_address_inside_a_cidr_is_contained_and_one_outside_is_not() {
        let nets = Networks::parse(&["203.0.113.0/24", "2001:db8::/32", "10.1.2.3"]).unwrap();
        assert!(nets.contains(ip("203.0.113.0")));
        assert!(nets.contains(ip("203.0.113.255")));
        assert!(!nets.contains(ip("203.0.114.0")));
        assert!(!nets.contains(ip("203.0.112.255")));
        assert!(nets.contains(ip("2001:db8:1::9")));
        assert!(nets.contains(ip("10.1.2.3")));
        assert!(!nets.contains(ip("10.1.2.4")));
        assert!(nets.contains(ip("::ffff:203.0.113.7")));
    }

    #[test]
    fn overlapping_and_adjacent_networks_merge() {
        let nets = Networks::parse(&["10.0.0.0/8", "10.1.0.0/16", "11.0.0.0/8"]).unwrap();
        assert_eq!(nets.ranges.len(), 1);
        assert!(nets.contains(ip("11.255.255.255")));
        assert!(!nets.contains(ip("12.0.0.0")));
    }

    #[test]
    fn an_entry_that_is_not_a_cidr_is_named() {
        for bad in ["203.0.113.0/33", "example.com", "", "10.0.0.0/", "1.2.3"] {
            assert_eq!(
                Networks::parse(&["10.0.0.0/8", bad]),
                Err(NotCidr(bad.into())),
                "{bad}"
            );
        }
    }

    #[test]
    fn forwarded_for_from_a_peer_that_is_not_a_trusted_proxy_is_ignored() {
        let trusted = Networks::parse(&["127.0.0.1/32"]).unwrap();
        let client = client_address(ip("198.51.100.9"), &xff("203.0.113.5"), &trusted);
        assert_eq!(client, Some(ip("198.51.100.9")));
        let none = Networks::default();
        let client = client_address(ip("127.0.0.1"), &xff("203.0.113.5"), &none);
        assert_eq!(client, Some(ip("127.0.0.1")));
    }

    #[test]
    fn behind_trusted_proxies_the_client_is_the_right_most_untrusted_entry() {
        let trusted = Networks::parse(&["127.0.0.1/32", "10.0.0.0/8"]).unwrap();
        let headers = xff("1.1.1.1, 203.0.113.5, 10.0.0.2");
        let client = client_address(ip("127.0.0.1"), &headers, &trusted);
        assert_eq!(client, Some(ip("203.0.113.5")));
        let ported = xff("[2001:db8::1]:443, 10.0.0.2:8080");
        let client = client_address(ip("127.0.0.1"), &ported, &trusted);
        assert_eq!(client, Some(ip("2001:db8::1")));
        let garbage = xff("203.0.113.5, not-an-ip");
        assert_eq!(client_address(ip("127.0.0.1"), &garbage, &trusted), None);
        assert_eq!(
            client_address(ip("127.0.0.1"), &[], &trusted),
            Some(ip("127.0.0.1"))
        );
    }
}
