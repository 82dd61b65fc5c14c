//! Publishing process readiness to the proxy (and letting the deployer redirect a name).
//!
//! The supervisor sets each process's own state; the deployer may put an override on a name
//! (e.g. `backend` → the new release's address) that wins until it is cleared. Readers get the
//! merged map through a [`UpstreamTable`] (`watch::Receiver`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

use crate::proxy::{UpstreamMap, UpstreamState, UpstreamTable};

#[derive(Default)]
struct Tables {
    own: HashMap<String, UpstreamState>,
    overrides: HashMap<String, UpstreamState>,
}

/// The writing side; cheap to clone.
#[derive(Clone)]
pub struct Upstreams {
    tables: Arc<Mutex<Tables>>,
    tx: Arc<watch::Sender<UpstreamMap>>,
}

impl Default for Upstreams {
    fn default() -> Self {
        Self::new()
    }
}

impl Upstreams {
    pub fn new() -> Upstreams {
        let (tx, _rx) = watch::channel(Arc::new(HashMap::new()));
        Upstreams {
            tables: Arc::new(Mutex::new(Tables::default())),
            tx: Arc::new(tx),
        }
    }

    /// A reader for the proxy: the current map and change notifications.
    pub fn table(&self) -> UpstreamTable {
        self.tx.subscribe()
    }

    /// The state the proxy sees for `name` right now.
    pub fn get(&self, name: &str) -> UpstreamState {
        self.tx
            .borrow()
            .get(name)
            .copied()
            .unwrap_or(UpstreamState::Down)
    }

    /// Called by the supervisor as a process changes state.
    pub fn set(&self, name: &str, state: UpstreamState) {
        self.update(|t| {
            t.own.insert(name.to_string(), state);
        });
    }

    /// Forgets a process removed from the manifest.
    pub fn remove(&self, name: &str) {
        self.update(|t| {
            t.own.remove(name);
        });
    }

    /// Makes `name` resolve to `state` regardless of the supervisor's own view (the deployer
    /// switching a route to a new release), until [`Upstreams::clear_override`].
    pub fn set_override(&self, name: &str, state: UpstreamState) {
        self.update(|t| {
            t.overrides.insert(name.to_string(), state);
        });
    }

    pub fn clear_override(&self, name: &str) {
        self.update(|t| {
            t.overrides.remove(name);
        });
    }

    fn update(&self, change: impl FnOnce(&mut Tables)) {
        let Ok(mut tables) = self.tables.lock() else {
            return;
        };
        change(&mut tables);
        let mut merged = tables.own.clone();
        for (name, state) in &tables.overrides {
            merged.insert(name.clone(), *state);
        }
        let merged = Arc::new(merged);
        self.tx.send_if_modified(|current| {
            if **current == *merged {
                false
            } else {
                *current = merged;
                true
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_win_until_cleared() {
        let up = Upstreams::new();
        let table = up.table();
        let a: std::net::SocketAddr = "127.0.0.1:3000".parse().unwrap();
        let b: std::net::SocketAddr = "127.0.0.1:3100".parse().unwrap();
        up.set("backend", UpstreamState::Ready(a));
        assert_eq!(
            table.borrow().get("backend"),
            Some(&UpstreamState::Ready(a))
        );
        up.set_override("backend", UpstreamState::Ready(b));
        up.set("backend", UpstreamState::Starting);
        assert_eq!(
            table.borrow().get("backend"),
            Some(&UpstreamState::Ready(b))
        );
        up.clear_override("backend");
        assert_eq!(up.get("backend"), UpstreamState::Starting);
    }
}
