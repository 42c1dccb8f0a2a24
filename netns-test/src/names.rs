//! The topology's names: every node's name for its addresses, and the `hosts` entries, as the
//! `/etc/hosts` every node's view shows, kept current as addresses change.

use std::fmt::Write as _;
use std::io;
use std::net::IpAddr;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use netns_test_topology::Topology;

use crate::debug::run;
use crate::sys::view;

/// How the name of a net's names directory begins (`netns-test clean` sweeps those of ended
/// runs).
pub(crate) const NAMES_PREFIX: &str = "netns-test-hosts-";

/// The net's names, shared by its nodes, and the views that show them.
pub(crate) struct Names {
    state: Mutex<State>,
}

struct State {
    /// Each node's name and addresses, in the topology's order.
    nodes: Vec<(String, Vec<IpAddr>)>,
    /// The `hosts` entries.
    hosts: Vec<(String, Vec<IpAddr>)>,
    /// Every view made so far and still held by its node: each shows the file, and is told
    /// when it changes (a removed node's view is let go of with it).
    views: Vec<Weak<OwnedFd>>,
    /// The files shown, in a directory of the net's own under the temporary directory, made
    /// with the first view and removed with the net: the directory and how many it holds.
    files: Option<(PathBuf, u32)>,
    /// The file of the names as they are now, once written: shared by every view made until
    /// the names change.
    current: Option<PathBuf>,
}

impl Names {
    /// The names of `topology` as declared.
    pub(crate) fn new(topology: &Topology) -> Names {
        let nodes = topology
            .nodes()
            .iter()
            .map(|node| {
                let addresses = node.addresses().map(|c| c.addr).collect();
                (node.name.clone(), addresses)
            })
            .collect();
        let hosts = topology.hosts().to_vec();
        Names {
            state: Mutex::new(State {
                nodes,
                hosts,
                views: Vec::new(),
                files: None,
                current: None,
            }),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The addresses of the `node`th node, in the order they were given.
    pub(crate) fn addresses(&self, node: usize) -> Vec<IpAddr> {
        self.state().nodes[node].1.clone()
    }

    /// Makes a view with `make`, given the file of the names as they are now, and keeps it
    /// current from then on. Returns it and what else `make` returned.
    pub(crate) fn make_view<T>(
        &self,
        make: impl FnOnce(&Path) -> io::Result<(OwnedFd, T)>,
    ) -> io::Result<(Arc<OwnedFd>, T)> {
        let mut state = self.state();
        let file = state.current_file()?;
        let (made, also) = make(&file)?;
        let made = Arc::new(made);
        state.views.push(Arc::downgrade(&made));
        Ok((made, also))
    }

    /// Changes the `node`th node's addresses with `change`, and shows the result in every view.
    pub(crate) fn change(
        &self,
        node: usize,
        change: impl FnOnce(&mut Vec<IpAddr>),
    ) -> io::Result<()> {
        self.change_all(|nodes, _| change(&mut nodes[node].1))
    }

    /// Changes the names with `change` (given every node's name and addresses, in the order
    /// of the net's nodes, then the `hosts` entries), and shows the result in every view.
    pub(crate) fn change_all(
        &self,
        change: impl FnOnce(&mut Vec<(String, Vec<IpAddr>)>, &mut Vec<(String, Vec<IpAddr>)>),
    ) -> io::Result<()> {
        let mut state = self.state();
        let State { nodes, hosts, .. } = &mut *state;
        change(nodes, hosts);
        state.current = None;
        state.views.retain(|view| view.strong_count() > 0);
        if state.views.is_empty() {
            return Ok(());
        }
        let file = state.current_file()?;
        state
            .views
            .iter()
            .filter_map(Weak::upgrade)
            .try_for_each(|view| view::show_hosts(&view, &file))
    }
}

impl Drop for Names {
    fn drop(&mut self) {
        if let Some((dir, _)) = &self.state().files {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

impl State {
    /// The file of the names as they are now: the last one written, unless they changed since.
    fn current_file(&mut self) -> io::Result<PathBuf> {
        if let Some(path) = &self.current {
            return Ok(path.clone());
        }
        let path = self.write()?;
        self.current = Some(path.clone());
        Ok(path)
    }

    /// Writes the names as they are now to a new file, returned.
    fn write(&mut self) -> io::Result<PathBuf> {
        use std::sync::atomic::{AtomicU64, Ordering};
        static NEXT: AtomicU64 = AtomicU64::new(0);
        if self.files.is_none() {
            let dir = std::env::temp_dir().join(format!(
                "{}{}-{}",
                NAMES_PREFIX,
                run::run_id(),
                NEXT.fetch_add(1, Ordering::Relaxed)
            ));
            std::fs::create_dir(&dir)?;
            self.files = Some((dir, 0));
        }
        let text = self.file();
        let (dir, count) = self.files.as_mut().expect("made above");
        *count += 1;
        let path = dir.join(format!("hosts.{count}"));
        std::fs::write(&path, text)?;
        Ok(path)
    }

    /// The `/etc/hosts` of the nodes: localhost, each node's addresses under its name (in the
    /// order given, so a lookup's first answer is the node's `ip()` family-wise), and each
    /// `hosts` entry.
    fn file(&self) -> String {
        let mut out = String::from(
            "# The topology's names, seen inside its nodes only (netns-test)\n\
             127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n",
        );
        for (name, addresses) in self.nodes.iter().chain(&self.hosts) {
            for addr in addresses {
                let _ = writeln!(out, "{addr} {name}");
            }
        }
        out
    }
}
