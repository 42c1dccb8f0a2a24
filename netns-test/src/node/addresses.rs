//! Addresses renewed while a test runs: [`Node::add_address`] and [`Node::remove_address`].

use netns_test_topology::Cidr;

use super::Node;
use crate::error::Error;
use crate::requests;
use crate::sys::netlink::{Kind, Socket};

impl Node {
    /// Gives interface `iface` of this node the address `cidr` (`"203.0.113.7/24"`), usable
    /// when this returns (IPv6 skips duplicate address detection, as a build does). The node's
    /// name resolves to it in every node from then on, and [`Node::ips`] lists it.
    ///
    /// ```no_run
    /// # fn demo(net: &netns_test::Net) -> Result<(), netns_test::Error> {
    /// let laptop = net.node("laptop");
    /// laptop.add_address("eth0", "203.0.113.50/24")?; // the lease renewed with a new address
    /// laptop.remove_address("eth0", "203.0.113.1/24")?;
    /// # Ok(()) }
    /// ```
    pub fn add_address(&self, iface: &str, cidr: &str) -> Result<(), Error> {
        self.change_address(iface, cidr, true)
    }

    /// Takes the address `cidr` off interface `iface` of this node: sockets bound to it stop
    /// working, and the node's name no longer resolves to it. Other IPv4 addresses of the same
    /// subnet stay (the kernel would remove them with the first one; netns-test sets the
    /// interface's `promote_secondaries`).
    ///
    /// ```no_run
    /// # fn demo(net: &netns_test::Net) -> Result<(), netns_test::Error> {
    /// net.node("b").remove_address("eth0", "203.0.113.2/24")?;
    /// # Ok(()) }
    /// ```
    pub fn remove_address(&self, iface: &str, cidr: &str) -> Result<(), Error> {
        self.change_address(iface, cidr, false)
    }

    fn change_address(&self, iface: &str, text: &str, add: bool) -> Result<(), Error> {
        let operation = if add {
            format!("adding address {text}")
        } else {
            format!("removing address {text}")
        };
        let located = |e: Error| e.on_node(self.name()).on_interface(iface);
        self.alive(&operation).map_err(located)?;
        let cidr: Cidr = text.parse().map_err(|e| {
            located(Error::usage(&operation, format!("`{text}` is not an address: {e}")))
                .with_hint("write an address with its prefix length, as in the topology: `203.0.113.7/24` or `2001:db8::7/64`")
        })?;
        self.in_netns(|| {
            let mut socket = Socket::open().map_err(|e| Error::io(&operation, e))?;
            let interfaces =
                crate::interfaces::read(&mut socket).map_err(|e| Error::io(&operation, e))?;
            let Some(found) = interfaces.iter().find(|i| i.name == iface) else {
                let names: Vec<&str> = interfaces.iter().map(|i| i.name.as_str()).collect();
                return Err(Error::usage(
                    &operation,
                    format!("node `{}` has no interface `{iface}`", self.name()),
                )
                .with_hint(format!("its interfaces: {}", names.join(", "))));
            };
            if !add && cidr.is_ipv4() && !iface.contains('.') {
                // As a DHCP client renews: the address that stays is promoted when the first
                // one goes, instead of going with it (the kernel's default).
                crate::sys::sysctl::write(
                    &format!("net.ipv4.conf.{iface}.promote_secondaries"),
                    "1",
                    false,
                )?;
            }
            let request = if add {
                (Kind::Create, requests::new_address(found.index, cidr))
            } else {
                (Kind::Change, requests::delete_address(found.index, cidr))
            };
            socket.execute_one(request, &operation)
        })
        .map_err(located)?;
        self.names
            .change(self.index, |addresses| {
                addresses.retain(|a| *a != cidr.addr);
                if add {
                    addresses.push(cidr.addr);
                }
            })
            .map_err(|e| {
                located(Error::io(
                    format!("{operation}: showing it in every node's names"),
                    e,
                ))
            })
    }
}
