//! An append-only list whose items never move: what lets a [`Net`](crate::Net) add nodes and
//! links through `&self` while the references it handed out earlier stay valid.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

/// Items in chunks of doubling size, each made once and never moved or freed before the list.
const CHUNKS: usize = 40;
/// The first chunk's size.
const FIRST: usize = 16;

/// An append-only list: `push` through `&self`, and `get` answers `&T` for the list's life.
pub(crate) struct Slots<T> {
    chunks: [OnceLock<Box<[OnceLock<T>]>>; CHUNKS],
    len: AtomicUsize,
    push: Mutex<()>,
}

impl<T> Slots<T> {
    pub fn new() -> Slots<T> {
        Slots {
            chunks: std::array::from_fn(|_| OnceLock::new()),
            len: AtomicUsize::new(0),
            push: Mutex::new(()),
        }
    }

    /// Where item `i` lives: its chunk and its place there.
    fn place(i: usize) -> (usize, usize) {
        let chunk = (i / FIRST + 1).ilog2() as usize;
        (chunk, i - FIRST * ((1 << chunk) - 1))
    }

    /// Adds `item` and returns its index.
    pub fn push(&self, item: T) -> usize {
        let _one_at_a_time = self.push.lock().unwrap_or_else(|e| e.into_inner());
        let i = self.len.load(Ordering::Acquire);
        let (c, k) = Self::place(i);
        let chunk = self.chunks[c].get_or_init(|| {
            (0..FIRST << c)
                .map(|_| OnceLock::new())
                .collect::<Vec<_>>()
                .into_boxed_slice()
        });
        if chunk[k].set(item).is_err() {
            unreachable!("slot {i} is filled once, under the push lock");
        }
        self.len.store(i + 1, Ordering::Release);
        i
    }

    /// Item `i`.
    ///
    /// # Panics
    /// If there is no item `i`.
    pub fn get(&self, i: usize) -> &T {
        let (c, k) = Self::place(i);
        self.chunks[c]
            .get()
            .and_then(|chunk| chunk[k].get())
            .unwrap_or_else(|| panic!("no item {i} among {}", self.len()))
    }

    /// How many items there are.
    pub fn len(&self) -> usize {
        self.len.load(Ordering::Acquire)
    }

    /// The last item, if any.
    pub fn last(&self) -> Option<&T> {
        self.len().checked_sub(1).map(|i| self.get(i))
    }
}

#[cfg(test)]
mod tests {
    use super::Slots;

    #[test]
    fn items_keep_their_place_as_the_list_grows() {
        let slots = Slots::new();
        let first: &String = {
            slots.push("zero".to_string());
            slots.get(0)
        };
        for i in 1..5_000 {
            assert_eq!(slots.push(i.to_string()), i);
        }
        assert_eq!(first, "zero");
        assert_eq!(slots.get(4_999), "4999");
        assert_eq!(slots.get(16), "16");
        assert_eq!(
            (slots.len(), slots.last().map(String::as_str)),
            (5_000, Some("4999"))
        );
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for i in 0..1_000 {
                        slots.push(i.to_string());
                    }
                });
            }
        });
        assert_eq!(slots.len(), 9_000);
    }
}
