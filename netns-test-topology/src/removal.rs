//! Links and nodes taken out of a topology, every index into the model kept right: what a
//! running topology looks like once a link or a node is removed.

use crate::model::{InterfaceKind, RouteVia, Topology};

impl Topology {
    /// This topology without link `k`: its two interfaces go, and with them the routes that
    /// used them (an on-link route out of one, a route via a gateway no other subnet of the
    /// node holds), a NAT whose outside it was and firewall statements watching it, as the
    /// kernel forgets them when the interface goes.
    ///
    /// # Panics
    /// If there is no link `k`.
    ///
    /// ```
    /// let t = netns_test_topology::parse("a -- b\nb -- c\nroute a default via 198.18.0.2").unwrap();
    /// let t = t.without_link(0);
    /// assert_eq!(t.links().len(), 1);
    /// assert!(t.node("a").unwrap().interfaces.is_empty() && t.node("a").unwrap().routes.is_empty());
    /// assert_eq!(t.node("b").unwrap().interfaces[0].name, "eth1");
    /// ```
    pub fn without_link(&self, k: usize) -> Topology {
        let mut t = self.clone();
        let link = t.links.remove(k);
        for node in &mut t.nodes {
            for iface in &mut node.interfaces {
                if let InterfaceKind::Veth { link, .. } = &mut iface.kind
                    && *link > k
                {
                    *link -= 1;
                }
            }
        }
        for end in link.ends {
            t.remove_interface(end.node, end.iface);
        }
        t
    }

    /// This topology without node `i`: its links first (as [`Topology::without_link`]), then
    /// the node.
    ///
    /// # Panics
    /// If there is no node `i`.
    ///
    /// ```
    /// let t = netns_test_topology::parse("a -- b\nb -- c").unwrap();
    /// let t = t.without_node(1);
    /// let names: Vec<&str> = t.nodes().iter().map(|n| n.name.as_str()).collect();
    /// assert_eq!((names, t.links().len()), (vec!["a", "c"], 0));
    /// ```
    pub fn without_node(&self, i: usize) -> Topology {
        let mut t = self.clone();
        while let Some(k) = t
            .links
            .iter()
            .position(|l| l.ends.iter().any(|e| e.node == i))
        {
            t = t.without_link(k);
        }
        t.nodes.remove(i);
        for link in &mut t.links {
            for end in &mut link.ends {
                if end.node > i {
                    end.node -= 1;
                }
            }
        }
        t
    }

    /// Takes interface `j` out of node `n`, and what depended on it.
    fn remove_interface(&mut self, n: usize, j: usize) {
        for link in &mut self.links {
            for end in &mut link.ends {
                if end.node == n && end.iface > j {
                    end.iface -= 1;
                }
            }
        }
        let node = &mut self.nodes[n];
        node.interfaces.remove(j);
        let shift = |x: usize| if x > j { x - 1 } else { x };
        let own: Vec<_> = node.addresses().collect();
        node.routes.retain_mut(|route| match &mut route.via {
            RouteVia::Dev(x) if *x == j => false,
            RouteVia::Dev(x) => {
                *x = shift(*x);
                true
            }
            RouteVia::Gateway(gw) => own.iter().any(|c| c.contains(*gw)),
        });
        if let Some(nat) = &mut node.nat {
            if nat.outside == j {
                node.nat = None;
            } else {
                nat.outside = shift(nat.outside);
            }
        }
        node.firewalls.retain_mut(|f| match &mut f.iface {
            Some(x) if *x == j => false,
            Some(x) => {
                *x = shift(*x);
                true
            }
            None => true,
        });
    }
}
