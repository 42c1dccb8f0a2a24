//! A topology written back as text: every node, interface name, address and option spelled
//! out, so the text parses to the same topology (what a change to a running topology starts from).

use std::fmt;

use crate::model::{LinkConditions, RouteVia, Topology};

impl fmt::Display for Topology {
    /// The topology as text that parses back to it: nodes and switches first (in order, so
    /// the order of the nodes is kept), then the links with every interface name and address
    /// written, then routes, NATs, firewalls and `hosts`.
    ///
    /// ```
    /// let t = netns_test_topology::parse("a -- b delay=5ms\nroute a default via 198.18.0.2").unwrap();
    /// let text = t.to_string();
    /// assert!(text.contains("a:eth0 198.18.0.1/24 -- b:eth0 198.18.0.2/24"));
    /// assert_eq!(netns_test_topology::parse(&text).unwrap().links(), t.links());
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for node in &self.nodes {
            if node.is_switch {
                write!(f, "switch {}", node.name)?;
                for cidr in &node.interfaces[0].addresses {
                    write!(f, " {cidr}")?;
                }
            } else {
                write!(f, "node {}", node.name)?;
                if node.forward {
                    f.write_str(" forward")?;
                }
                for (key, value) in &node.sysctls {
                    write!(f, " sysctl {key}={value}")?;
                }
            }
            writeln!(f)?;
        }
        for link in &self.links {
            for (side, end) in link.ends.iter().enumerate() {
                let node = &self.nodes[end.node];
                let iface = &node.interfaces[end.iface];
                let join = if side == 0 { "" } else { " -- " };
                write!(f, "{join}{}:{}", node.name, iface.name)?;
                for cidr in &iface.addresses {
                    write!(f, " {cidr}")?;
                }
            }
            if let Some(mtu) = link.mtu {
                write!(f, " mtu={mtu}")?;
            }
            if let Some(c) = &link.conditions {
                write_conditions(f, c)?;
            }
            writeln!(f)?;
        }
        for node in &self.nodes {
            for route in &node.routes {
                write!(f, "route {} {} ", node.name, route.dest)?;
                match route.via {
                    RouteVia::Gateway(gw) => writeln!(f, "via {gw}")?,
                    RouteVia::Dev(j) => writeln!(f, "dev {}", node.interfaces[j].name)?,
                }
            }
        }
        for node in &self.nodes {
            if let Some(nat) = &node.nat {
                let outside = &node.interfaces[nat.outside].name;
                write!(f, "nat {} {outside} {}", node.name, nat.kind.word())?;
                if nat.hairpin {
                    f.write_str(" hairpin")?;
                }
                if let Some(secs) = nat.timeout_secs {
                    write!(f, " timeout={secs}s")?;
                }
                writeln!(f)?;
            }
            for firewall in &node.firewalls {
                write!(f, "firewall {}", node.name)?;
                if let Some(j) = firewall.iface {
                    write!(f, " in {}", node.interfaces[j].name)?;
                }
                for rule in &firewall.rules {
                    write!(f, " {rule}")?;
                }
                writeln!(f)?;
            }
        }
        for (name, addresses) in &self.hosts {
            write!(f, "hosts {name}")?;
            for addr in addresses {
                write!(f, " {addr}")?;
            }
            writeln!(f)?;
        }
        Ok(())
    }
}

/// A link's conditions in whole units, `delay=` always (so a link conditioned at zero stays
/// conditioned).
fn write_conditions(f: &mut fmt::Formatter<'_>, c: &LinkConditions) -> fmt::Result {
    write!(f, " delay={}ns", c.delay_ns)?;
    if c.jitter_ns > 0 {
        write!(f, " jitter={}ns", c.jitter_ns)?;
    }
    for (key, ppb) in [
        ("loss", c.loss_ppb),
        ("reorder", c.reorder_ppb),
        ("duplicate", c.duplicate_ppb),
        ("corrupt", c.corrupt_ppb),
    ] {
        if ppb > 0 {
            // 1% is 10,000,000 parts per billion.
            write!(f, " {key}={}.{:07}%", ppb / 10_000_000, ppb % 10_000_000)?;
        }
    }
    if let Some(bps) = c.rate_bps {
        write!(f, " rate={bps}bit")?;
    }
    if let Some(seed) = c.seed {
        write!(f, " seed={seed}")?;
    }
    Ok(())
}
