//! Which peers are trusted: `--forwarded-allow-ips` (forwarded headers) and
//! `--proxy-allow-from` (PROXY protocol). IPs, CIDR networks, or `*`; IPv4-mapped IPv6
//! peers match IPv4 entries (a dual-stack listener sees `::ffff:10.0.0.1`).

use std::net::IpAddr;

/// A parsed allow-list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct IpList {
    any: bool,
    nets: Vec<(IpAddr, u8)>,
}

impl IpList {
    /// Parses entries already validated by the configuration (`value::addr_list`);
    /// anything unparsable is skipped, never trusted.
    pub(crate) fn new(items: &[String]) -> IpList {
        let mut list = IpList::default();
        for item in items {
            if item == "*" {
                list.any = true;
                continue;
            }
            let (ip, bits) = match item.split_once('/') {
                Some((ip, bits)) => (ip.parse::<IpAddr>(), bits.parse::<u8>().ok()),
                None => (item.parse::<IpAddr>(), None),
            };
            if let Ok(ip) = ip {
                let max = if ip.is_ipv4() { 32 } else { 128 };
                list.nets.push((ip, bits.unwrap_or(max).min(max)));
            }
        }
        list
    }

    /// Whether `ip` is in the list.
    pub(crate) fn contains(&self, ip: IpAddr) -> bool {
        if self.any {
            return true;
        }
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        self.nets.iter().any(|&(net, bits)| match (net, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => prefix_eq(&n.octets(), &a.octets(), bits),
            (IpAddr::V6(n), IpAddr::V6(a)) => prefix_eq(&n.octets(), &a.octets(), bits),
            _ => false,
        })
    }
}

fn prefix_eq(a: &[u8], b: &[u8], bits: u8) -> bool {
    let full = usize::from(bits / 8);
    if a[..full] != b[..full] {
        return false;
    }
    let rest = bits % 8;
    rest == 0 || {
        let mask = 0xffu8 << (8 - rest);
        (a[full] & mask) == (b[full] & mask)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(s: &[&str]) -> IpList {
        IpList::new(&s.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn ips_networks_and_star() {
        let l = list(&["127.0.0.1", "::1", "10.1.0.0/16", "fd00::/8"]);
        assert!(l.contains("127.0.0.1".parse().unwrap()));
        assert!(!l.contains("127.0.0.2".parse().unwrap()));
        assert!(l.contains("10.1.255.3".parse().unwrap()));
        assert!(!l.contains("10.2.0.1".parse().unwrap()));
        assert!(l.contains("::1".parse().unwrap()));
        assert!(l.contains("fd12::1".parse().unwrap()));
        assert!(
            l.contains("::ffff:10.1.0.9".parse().unwrap()),
            "v4-mapped peers match v4 nets"
        );
        assert!(list(&["*"]).contains("8.8.8.8".parse().unwrap()));
        assert!(!list(&[]).contains("127.0.0.1".parse().unwrap()));
        assert!(
            list(&["10.1.2.3/20"]).contains("10.1.0.1".parse().unwrap()),
            "host bits ignored"
        );
        assert!(list(&["0.0.0.0/0"]).contains("1.2.3.4".parse().unwrap()));
    }
}
