//! A node's NAT and firewall, installed as one nf_tables transaction in its namespace once its
//! interfaces and addresses are configured, and the NAT's mapping lifetime set.

use std::os::fd::OwnedFd;

use netns_test_topology::Node;

use crate::error::Error;
use crate::requests::nftables::{self, Request};
use crate::sys::netfilter::NetfilterSocket;
use crate::sys::{namespace, sysctl};

/// Installs `node`'s rule set from inside its namespace `ns`; nothing for a node without one.
pub(super) fn install(node: &Node, ns: &OwnedFd) -> Result<(), Error> {
    let requests = nftables::ruleset(node);
    if requests.is_empty() {
        return Ok(());
    }
    namespace::enter(ns)
        .map_err(|e| Error::io("entering the node's namespace", e).on_node(&node.name))?;
    send(node, requests)?;
    install_timeout(node)
}

/// Sets the NAT's mapping lifetime, from inside its namespace (the calling thread's).
pub(super) fn install_timeout(node: &Node) -> Result<(), Error> {
    if let Some(secs) = node.nat.and_then(|n| n.timeout_secs) {
        let secs = secs.to_string();
        // A UDP entry keeps the unreplied timeout for a while after its first reply: both.
        for key in [
            "net.netfilter.nf_conntrack_udp_timeout",
            "net.netfilter.nf_conntrack_udp_timeout_stream",
        ] {
            sysctl::write(key, &secs, false).map_err(|e| e.on_node(&node.name))?;
        }
    }
    Ok(())
}

/// Sends `requests` as one transaction from the calling thread's namespace, which is `node`'s.
pub(crate) fn send(node: &Node, requests: Vec<Request>) -> Result<(), Error> {
    let context = |e| Error::io("talking to nf_tables over netlink", e).on_node(&node.name);
    let mut socket = NetfilterSocket::open().map_err(context)?;
    let mut described: Vec<(String, Vec<&'static str>)> = Vec::with_capacity(requests.len());
    let messages = requests
        .into_iter()
        .map(|r| {
            described.push((r.what, r.needs));
            (r.message, r.flags)
        })
        .collect();
    match socket.transaction(messages).map_err(context)? {
        Ok(()) => Ok(()),
        Err((index, refusal)) => {
            let (what, needs) = &described[index];
            let mut error =
                Error::kernel(what.clone(), refusal.errno, refusal.detail).on_node(&node.name);
            if matches!(
                refusal.errno,
                nix::errno::Errno::ENOENT | nix::errno::Errno::EOPNOTSUPP
            ) {
                error = error.with_hint(format!(
                    "this kernel lacks an nf_tables feature the node's NAT or firewall needs: {}",
                    needs.join(", ")
                ));
            }
            Err(error)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::requests::nftables::{Family, expr, rule, table};

    /// A kernel without an expression a rule set needs refuses the transaction; the error names
    /// the node, what was being done and the feature. Provoked for real with an expression no
    /// kernel has.
    #[test]
    fn a_missing_kernel_feature_is_named_with_the_node() {
        let net = crate::Net::build("a -- b").unwrap();
        let spec = &net.topology().nodes()[0];
        let missing: expr::Expr = netlink_packet_netfilter::nftables::Expressions::Other {
            expression_type: "netns_test_no_such_expression".into(),
            attributes: Vec::new(),
        }
        .into();
        let mut bad = rule(Family::Ip, "t", "c", vec![missing], "");
        bad.needs = vec!["an expression this kernel lacks (CONFIG_NETNS_TEST_NOTHING)"];
        let requests = vec![
            table(Family::Ip, "t"),
            crate::requests::nftables::chain(
                Family::Ip,
                "t",
                "c",
                "filter",
                crate::requests::nftables::HookPoint::Input,
                0,
            ),
            bad,
        ];
        let e = net.node("a").in_netns(|| send(spec, requests)).unwrap_err();
        let text = e.to_string();
        assert_eq!(e.node(), Some("a"), "{text}");
        assert!(
            text.contains("adding a rule to chain c of table t"),
            "{text}"
        );
        assert!(text.contains("CONFIG_NETNS_TEST_NOTHING"), "{text}");
    }
}
