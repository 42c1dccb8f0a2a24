//! The threads a node's code runs on and what they see: its tokio runtimes, its view of the
//! file system, and the wait for its runtime when the node goes.

use std::os::fd::OwnedFd;
use std::sync::{Arc, MutexGuard};
use std::time::Duration;

use super::Node;
use crate::sys::namespace::{self, Entered};
use crate::sys::view;

impl Node {
    pub(super) fn runtime(&self) -> MutexGuard<'_, Option<tokio::runtime::Runtime>> {
        self.runtime.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A new tokio runtime whose every thread (workers and blocking pool) lives inside this
    /// node: each moves itself in when it starts, and aborts the process if it cannot (a thread
    /// outside its node would send from the wrong namespace).
    pub(crate) fn runtime_with(
        &self,
        multi_thread: bool,
        workers: usize,
    ) -> std::io::Result<tokio::runtime::Runtime> {
        let mut builder = if multi_thread {
            let mut b = tokio::runtime::Builder::new_multi_thread();
            b.worker_threads(workers.max(1));
            b
        } else {
            tokio::runtime::Builder::new_current_thread()
        };
        let ns = self.ns();
        let view = self.view()?;
        let node = self.name.clone();
        builder
            .enable_all()
            .thread_name(format!("netns-{}", self.name))
            .on_thread_start(move || {
                if let Err(e) = namespace::enter(&*ns).and_then(|()| view::enter(&view)) {
                    eprintln!("netns-test: a runtime thread cannot enter node `{node}`: {e}");
                    std::process::abort();
                }
            })
            .build()
    }

    /// This node's view of the file system (its `/sys`, the topology's names in `/etc/hosts`),
    /// made on first use.
    pub(crate) fn view(&self) -> std::io::Result<Arc<OwnedFd>> {
        let mut view = self.view.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(view) = &*view {
            return Ok(view.clone());
        }
        let (made, ()) = self
            .names
            .make_view(|hosts| Ok((view::make(&self.ns(), hosts)?, ())))?;
        *view = Some(made.clone());
        Ok(made)
    }

    /// Moves the calling thread into this node and its view until the guards drop (the view
    /// first, then the network namespace).
    pub(crate) fn enter_with_view(&self) -> std::io::Result<(view::Visit, Entered)> {
        let entered = Entered::new(&self.ns())?;
        let mut view = self.view.lock().unwrap_or_else(|e| e.into_inner());
        let visit = match &*view {
            Some(made) => view::visit(made)?,
            None => {
                // The body's node is usually first used here: made on this thread, which
                // enters it anyway, rather than on one of its own.
                let (made, visit) = self
                    .names
                    .make_view(|hosts| view::make_and_visit(&self.ns(), hosts))?;
                *view = Some(made);
                visit
            }
        };
        Ok((visit, entered))
    }
}

/// How long dropping a node waits for its runtime's tasks.
const SHUTDOWN: Duration = Duration::from_secs(5);

impl Drop for Node {
    fn drop(&mut self) {
        let runtime = self.runtime.get_mut().unwrap_or_else(|e| e.into_inner());
        if let Some(runtime) = runtime.take() {
            // A runtime cannot be dropped from async code; a plain thread can always wait for it.
            let started = std::time::Instant::now();
            std::thread::spawn(move || runtime.shutdown_timeout(SHUTDOWN))
                .join()
                .ok();
            if started.elapsed() >= SHUTDOWN {
                let line = format!(
                    "netns-test: node `{}`: a task from Node::spawn was still blocking a runtime \
                     thread {} s after the Net was dropped, and was left running; block in \
                     tokio::task::spawn_blocking, or let the task end\n",
                    self.name,
                    SHUTDOWN.as_secs()
                );
                // Straight to fd 2: libtest's capture would hide it when the test passes.
                let _ = std::io::Write::write_all(&mut std::io::stderr(), line.as_bytes());
            }
        }
    }
}
