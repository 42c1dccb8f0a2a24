use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// An IPv4 or IPv6 address with a prefix length, as in `203.0.113.1/24` or `2001:db8::1/64`.
///
/// ```
/// let c: netns_test_topology::Cidr = "203.0.113.7/24".parse().unwrap();
/// assert_eq!((c.addr.to_string(), c.prefix), ("203.0.113.7".to_string(), 24));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cidr {
    /// The address, host bits included.
    pub addr: IpAddr,
    /// The prefix length: 0..=32 for IPv4, 0..=128 for IPv6.
    pub prefix: u8,
}

impl Cidr {
    /// A CIDR from an address and a prefix length; `None` if the length exceeds the family's.
    ///
    /// ```
    /// use netns_test_topology::Cidr;
    /// assert!(Cidr::new("2001:db8::1".parse().unwrap(), 64).is_some());
    /// assert!(Cidr::new("203.0.113.1".parse().unwrap(), 33).is_none());
    /// ```
    pub fn new(addr: IpAddr, prefix: u8) -> Option<Cidr> {
        (prefix <= max_prefix(addr)).then_some(Cidr { addr, prefix })
    }

    /// True for IPv4.
    ///
    /// ```
    /// assert!("203.0.113.1/24".parse::<netns_test_topology::Cidr>().unwrap().is_ipv4());
    /// ```
    pub fn is_ipv4(&self) -> bool {
        self.addr.is_ipv4()
    }

    /// The network address: the host bits cleared.
    ///
    /// ```
    /// let c: netns_test_topology::Cidr = "203.0.113.7/24".parse().unwrap();
    /// assert_eq!(c.network().to_string(), "203.0.113.0");
    /// ```
    pub fn network(&self) -> IpAddr {
        from_bits(self.addr, to_bits(self.addr) & self.mask())
    }

    /// True if `ip` lies inside this subnet.
    ///
    /// ```
    /// let c: netns_test_topology::Cidr = "203.0.113.7/24".parse().unwrap();
    /// assert!(c.contains("203.0.113.200".parse().unwrap()));
    /// ```
    pub fn contains(&self, ip: IpAddr) -> bool {
        ip.is_ipv4() == self.addr.is_ipv4() && to_bits(ip) & self.mask() == to_bits(self.network())
    }

    /// True if the two subnets share any address.
    ///
    /// ```
    /// use netns_test_topology::Cidr;
    /// let a: Cidr = "198.18.0.0/15".parse().unwrap();
    /// assert!(a.overlaps(&"198.19.4.0/24".parse().unwrap()));
    /// ```
    pub fn overlaps(&self, other: &Cidr) -> bool {
        if self.is_ipv4() != other.is_ipv4() {
            return false;
        }
        let shorter = if self.prefix <= other.prefix {
            self
        } else {
            other
        };
        let longer = if self.prefix <= other.prefix {
            other
        } else {
            self
        };
        shorter.contains(longer.addr)
    }

    /// The `n`th usable host address of the subnet (n from 1), with the same prefix; `None` past
    /// the end. IPv4 subnets of /30 and wider keep their network and broadcast addresses out.
    ///
    /// ```
    /// let c: netns_test_topology::Cidr = "203.0.113.0/24".parse().unwrap();
    /// assert_eq!(c.host(10).unwrap().to_string(), "203.0.113.10/24");
    /// ```
    pub fn host(&self, n: u128) -> Option<Cidr> {
        let width = u32::from(max_prefix(self.addr) - self.prefix);
        let size: u128 = if width >= 128 {
            u128::MAX
        } else {
            1u128 << width
        };
        let reserved_top = u128::from(self.is_ipv4() && width >= 2);
        if n == 0 || n >= size.saturating_sub(reserved_top) {
            return None;
        }
        let bits = to_bits(self.network()) + n;
        Some(Cidr {
            addr: from_bits(self.addr, bits),
            prefix: self.prefix,
        })
    }

    fn mask(&self) -> u128 {
        let width = u32::from(max_prefix(self.addr));
        let prefix = u32::from(self.prefix);
        let all = if width == 128 {
            u128::MAX
        } else {
            (1u128 << width) - 1
        };
        if prefix == 0 {
            0
        } else {
            all & !((1u128 << (width - prefix)) - 1)
        }
    }
}

fn max_prefix(addr: IpAddr) -> u8 {
    if addr.is_ipv4() { 32 } else { 128 }
}

fn to_bits(addr: IpAddr) -> u128 {
    match addr {
        IpAddr::V4(a) => u128::from(u32::from(a)),
        IpAddr::V6(a) => u128::from(a),
    }
}

fn from_bits(family: IpAddr, bits: u128) -> IpAddr {
    match family {
        IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::from(bits as u32)),
        IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::from(bits)),
    }
}

/// Why text did not parse as a [`Cidr`].
///
/// ```
/// let e = "203.0.113.1".parse::<netns_test_topology::Cidr>().unwrap_err();
/// println!("{e}"); // says the prefix length is missing
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CidrError {
    /// No `/PREFIX` after the address.
    NoPrefix,
    /// The part before `/` is not an IPv4 or IPv6 address.
    BadAddress,
    /// The prefix length is not a number within the family's range.
    BadPrefix,
}

impl fmt::Display for CidrError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CidrError::NoPrefix => "an address needs a prefix length, e.g. `203.0.113.1/24`",
            CidrError::BadAddress => {
                "expected an IPv4 or IPv6 address, e.g. `203.0.113.1/24` or `2001:db8::1/64`"
            }
            CidrError::BadPrefix => "the prefix length must be 0 to 32 for IPv4, 0 to 128 for IPv6",
        })
    }
}

impl std::error::Error for CidrError {}

impl FromStr for Cidr {
    type Err = CidrError;

    fn from_str(s: &str) -> Result<Cidr, CidrError> {
        let (addr, prefix) = s.split_once('/').ok_or(CidrError::NoPrefix)?;
        let addr: IpAddr = addr.parse().map_err(|_| CidrError::BadAddress)?;
        if prefix.is_empty() || prefix.len() > 3 || !prefix.bytes().all(|b| b.is_ascii_digit()) {
            return Err(CidrError::BadPrefix);
        }
        let prefix: u8 = prefix.parse().map_err(|_| CidrError::BadPrefix)?;
        Cidr::new(addr, prefix).ok_or(CidrError::BadPrefix)
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(s: &str) -> Cidr {
        s.parse().unwrap()
    }

    #[test]
    fn parses_and_prints_both_families() {
        assert_eq!(c("203.0.113.7/24").to_string(), "203.0.113.7/24");
        assert_eq!(c("2001:db8::1/64").to_string(), "2001:db8::1/64");
        assert_eq!("203.0.113.7".parse::<Cidr>(), Err(CidrError::NoPrefix));
        assert_eq!("203.0.113.7/33".parse::<Cidr>(), Err(CidrError::BadPrefix));
        assert_eq!("2001:db8::1/129".parse::<Cidr>(), Err(CidrError::BadPrefix));
        assert_eq!("203.0.113/24".parse::<Cidr>(), Err(CidrError::BadAddress));
        assert_eq!("203.0.113.1/+4".parse::<Cidr>(), Err(CidrError::BadPrefix));
    }

    #[test]
    fn subnet_arithmetic() {
        assert_eq!(c("203.0.113.7/24").network().to_string(), "203.0.113.0");
        assert!(c("203.0.113.7/24").contains("203.0.113.200".parse().unwrap()));
        assert!(!c("203.0.113.7/24").contains("203.0.114.1".parse().unwrap()));
        assert!(!c("203.0.113.7/24").contains("2001:db8::1".parse().unwrap()));
        assert!(c("0.0.0.0/0").contains("198.51.100.1".parse().unwrap()));
        assert!(c("198.18.0.0/15").overlaps(&c("198.19.4.0/24")));
        assert!(!c("198.18.0.0/24").overlaps(&c("198.18.1.0/24")));
        assert_eq!(c("198.18.3.0/24").host(1), Some(c("198.18.3.1/24")));
        assert_eq!(c("198.18.3.0/24").host(254), Some(c("198.18.3.254/24")));
        assert_eq!(c("198.18.3.0/24").host(255), None);
        assert_eq!(c("2001:db8::/64").host(2), Some(c("2001:db8::2/64")));
        assert_eq!(c("203.0.113.0/31").host(1), Some(c("203.0.113.1/31")));
        assert_eq!(c("203.0.113.0/32").host(1), None);
    }
}
