//! The one error type of the crate.

use std::fmt;
use std::io;

use netns_test_topology::TopologyError;
use nix::errno::Errno;

/// What went wrong, where (node, interface, operation) and what to do about it.
///
/// Its `Display` is the whole story in one paragraph, fit for a test failure message.
///
/// ```
/// use netns_test::{ErrorKind, Net};
/// let error = Net::build("a -- a").unwrap_err();
/// assert_eq!(error.kind(), ErrorKind::Topology);
/// assert!(error.to_string().contains("a link from node `a` to itself"));
/// ```
#[derive(Debug)]
pub struct Error(Box<Inner>);

#[derive(Debug)]
struct Inner {
    kind: ErrorKind,
    node: Option<String>,
    interface: Option<String>,
    operation: String,
    cause: Cause,
    hint: Option<String>,
}

/// The broad class of an [`Error`].
///
/// ```
/// # use netns_test::{ErrorKind, Net};
/// match Net::build("a -- b") {
///     Err(e) if e.kind() == ErrorKind::Unsupported => eprintln!("no namespaces here: {e}"),
///     other => drop(other),
/// }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The topology text is wrong; fix the text.
    Topology,
    /// The kernel refused a request (netlink, sysctl, namespace).
    Kernel,
    /// This environment cannot create namespaces (no privilege, no user namespaces).
    Unsupported,
    /// Reading a file or another I/O operation failed.
    Io,
    /// The caller asked for something the API cannot do (bad link conditions, conditions on a
    /// plain link); fix the call.
    Usage,
    /// The node or link this handle stands for was removed from the running topology.
    Removed,
}

#[derive(Debug)]
enum Cause {
    Topology {
        source: Option<String>,
        error: TopologyError,
    },
    Os {
        errno: Option<Errno>,
        message: String,
        detail: Option<String>,
        /// The system's error, for [`std::error::Error::source`].
        source: Option<io::Error>,
    },
}

impl Error {
    pub(crate) fn topology(source: Option<String>, error: TopologyError) -> Error {
        Error(Box::new(Inner {
            kind: ErrorKind::Topology,
            node: None,
            interface: None,
            operation: String::new(),
            cause: Cause::Topology { source, error },
            hint: None,
        }))
    }

    pub(crate) fn kernel(
        operation: impl Into<String>,
        errno: Errno,
        detail: Option<String>,
    ) -> Error {
        Error(Box::new(Inner {
            kind: ErrorKind::Kernel,
            node: None,
            interface: None,
            operation: operation.into(),
            cause: Cause::Os {
                errno: Some(errno),
                message: errno.desc().to_string(),
                detail,
                source: Some(io::Error::from(errno)),
            },
            hint: default_hint(errno),
        }))
    }

    pub(crate) fn io(operation: impl Into<String>, error: io::Error) -> Error {
        let errno = error.raw_os_error().map(Errno::from_raw);
        Error(Box::new(Inner {
            kind: ErrorKind::Io,
            node: None,
            interface: None,
            operation: operation.into(),
            cause: Cause::Os {
                errno,
                message: error.to_string(),
                detail: None,
                source: Some(error),
            },
            hint: errno.and_then(default_hint),
        }))
    }

    pub(crate) fn unsupported(
        operation: impl Into<String>,
        errno: Option<Errno>,
        hint: String,
    ) -> Error {
        Error(Box::new(Inner {
            kind: ErrorKind::Unsupported,
            node: None,
            interface: None,
            operation: operation.into(),
            cause: Cause::Os {
                errno,
                message: errno.map_or_else(|| "not supported".into(), |e| e.desc().to_string()),
                detail: None,
                source: errno.map(io::Error::from),
            },
            hint: Some(hint),
        }))
    }

    /// `operation` asked of a node or link that was removed (`what` names it).
    pub(crate) fn removed(operation: impl Into<String>, what: &str) -> Error {
        let mut e = Error::usage(
            operation,
            format!("{what} was removed from the running topology"),
        )
        .with_hint("a handle taken since it was added again answers for the new one");
        e.0.kind = ErrorKind::Removed;
        e
    }

    pub(crate) fn usage(operation: impl Into<String>, message: impl Into<String>) -> Error {
        Error(Box::new(Inner {
            kind: ErrorKind::Usage,
            node: None,
            interface: None,
            operation: operation.into(),
            cause: Cause::Os {
                errno: None,
                message: message.into(),
                detail: None,
                source: None,
            },
            hint: None,
        }))
    }

    pub(crate) fn on_node(mut self, node: &str) -> Error {
        self.0.node = Some(node.to_string());
        self
    }

    pub(crate) fn on_interface(mut self, interface: &str) -> Error {
        self.0.interface = Some(interface.to_string());
        self
    }

    pub(crate) fn with_hint(mut self, hint: impl Into<String>) -> Error {
        self.0.hint = Some(hint.into());
        self
    }

    /// The broad class of the error.
    ///
    /// ```
    /// let e = netns_test::Net::build("nod a").unwrap_err();
    /// assert_eq!(e.kind(), netns_test::ErrorKind::Topology);
    /// ```
    pub fn kind(&self) -> ErrorKind {
        self.0.kind
    }

    /// The node the failed operation was for, if any.
    ///
    /// ```no_run
    /// # fn demo(result: Result<netns_test::Net, netns_test::Error>) {
    /// if let Err(e) = result {
    ///     eprintln!("node {:?}, interface {:?}: {}", e.node(), e.interface(), e.operation());
    /// }
    /// # }
    /// ```
    pub fn node(&self) -> Option<&str> {
        self.0.node.as_deref()
    }

    /// The interface the failed operation was for, if any.
    ///
    /// ```
    /// let e = netns_test::Net::build("a -- b mtu=9").unwrap_err(); // refused before any node is made
    /// assert_eq!((e.node(), e.interface()), (None, None));
    /// ```
    pub fn interface(&self) -> Option<&str> {
        self.0.interface.as_deref()
    }

    /// The operation that failed, e.g. `creating veth eth0 (peer eth0 in node b)`.
    ///
    /// ```no_run
    /// # fn demo(net: &netns_test::Net) {
    /// let e = net.node("a").nat_mappings().unwrap_err(); // `a` is no NAT
    /// assert_eq!(e.operation(), "reading the NAT's mappings");
    /// # }
    /// ```
    pub fn operation(&self) -> &str {
        &self.0.operation
    }

    /// The errno behind a kernel or I/O error.
    ///
    /// ```no_run
    /// # fn demo(result: Result<netns_test::Net, netns_test::Error>) {
    /// if let Err(e) = result {
    ///     if e.errno() == Some(libc::EPERM) { /* not root, no user namespaces */ }
    /// }
    /// # }
    /// ```
    pub fn errno(&self) -> Option<i32> {
        match &self.0.cause {
            Cause::Os { errno, .. } => errno.map(|e| e as i32),
            Cause::Topology { .. } => None,
        }
    }

    /// The topology mistake behind a [`ErrorKind::Topology`] error.
    ///
    /// ```
    /// let e = netns_test::Net::build("a -- b\nfoo").unwrap_err();
    /// let t = e.topology_error().unwrap();
    /// assert_eq!((t.line, t.column, t.token.as_str()), (2, 1, "foo"));
    /// ```
    pub fn topology_error(&self) -> Option<&TopologyError> {
        match &self.0.cause {
            Cause::Topology { error, .. } => Some(error),
            Cause::Os { .. } => None,
        }
    }
}

/// What to do, for the errnos whose remedy does not depend on the operation.
fn default_hint(errno: Errno) -> Option<String> {
    Some(match errno {
        Errno::EPERM | Errno::EACCES => {
            "this needs CAP_SYS_ADMIN and CAP_NET_ADMIN: run the tests as root, or grant those \
             capabilities (in Docker: --cap-add SYS_ADMIN --cap-add NET_ADMIN)"
                .into()
        }
        Errno::EMFILE | Errno::ENFILE => {
            "too many open files: raise the limit (`ulimit -n`) or run fewer tests at once".into()
        }
        Errno::ENOMEM | Errno::ENOBUFS => {
            "the kernel is short of memory: run fewer tests at once (`--test-threads`)".into()
        }
        Errno::ENOSPC => {
            "a namespace limit is reached: check `sysctl user.max_net_namespaces` or run fewer \
             tests at once"
                .into()
        }
        _ => return None,
    })
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0.cause {
            Cause::Topology { source, error } => {
                write!(f, "invalid topology")?;
                if let Some(source) = source {
                    write!(f, " in {source}")?;
                }
                write!(f, ": {error}")
            }
            Cause::Os {
                message, detail, ..
            } => {
                match (&self.0.node, &self.0.interface) {
                    (Some(n), Some(i)) => write!(f, "node `{n}`, interface `{i}`: ")?,
                    (Some(n), None) => write!(f, "node `{n}`: ")?,
                    _ => {}
                }
                write!(f, "{} failed: {message}", self.0.operation)?;
                if let Some(detail) = detail.as_deref().filter(|d| !d.is_empty()) {
                    write!(f, " (kernel: {detail})")?;
                }
                if let Some(hint) = &self.0.hint {
                    write!(f, "; {hint}")?;
                }
                Ok(())
            }
        }
    }
}

/// The source of a kernel or I/O error is the system's [`io::Error`] (its errno); a topology
/// error's is the [`TopologyError`].
impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.0.cause {
            Cause::Os { source, .. } => source.as_ref().map(|e| e as _),
            Cause::Topology { error, .. } => Some(error),
        }
    }
}

/// For bodies and helpers that return `std::io::Result`: the system's own error when there is
/// one (its kind kept), else one of kind `Other`, carrying the whole message either way.
///
/// ```
/// fn build(text: &str) -> std::io::Result<netns_test::Net> {
///     Ok(netns_test::Net::build(text)?)
/// }
/// let e = build("a -- a").unwrap_err();
/// assert!(e.to_string().contains("to itself"));
/// ```
impl From<Error> for io::Error {
    fn from(error: Error) -> io::Error {
        let kind = match &error.0.cause {
            Cause::Os {
                source: Some(source),
                ..
            } => source.kind(),
            _ => io::ErrorKind::Other,
        };
        io::Error::new(kind, error)
    }
}
