//! Changes timed against a client's requests: a person acting on GitHub while the daemon pages
//! through a list. A test registers a change to run just before the fake answers a given
//! request, which is how the drift of offset pagination is reproduced without sleeping.

use axum::http::Method;

use super::{FakeGithub, Shared};

/// A change waiting for its request.
pub struct Hook {
    path_suffix: String,
    /// Matching GET requests still to let through before the change runs.
    skip: u32,
    change: Box<dyn FnOnce() + Send>,
}

impl FakeGithub {
    /// Runs `change` just before the fake answers the `nth` (from 1) GET request from now on
    /// whose path ends with `path_suffix` (for example `/issues` or `/issues/comments`, under
    /// either repository form). `change` usually calls this fake's helpers through a clone of
    /// its `Arc`; it runs once, with no lock held.
    pub fn before_request(&self, path_suffix: &str, nth: u32, change: impl FnOnce() + Send + 'static) {
        assert!(nth >= 1, "requests are counted from 1");
        let hook = Hook { path_suffix: path_suffix.to_string(), skip: nth - 1, change: Box::new(change) };
        self.shared.hooks.lock().unwrap().push(hook);
    }
}

/// Runs the changes that wait for this request (called by the gate before the handler).
pub fn run_due(shared: &Shared, method: &Method, path: &str) {
    if method != Method::GET {
        return;
    }
    let due: Vec<Hook> = {
        let mut hooks = shared.hooks.lock().unwrap();
        let mut due = Vec::new();
        let mut waiting = Vec::new();
        for mut hook in hooks.drain(..) {
            if !path.ends_with(&hook.path_suffix) {
                waiting.push(hook);
            } else if hook.skip == 0 {
                due.push(hook);
            } else {
                hook.skip -= 1;
                waiting.push(hook);
            }
        }
        *hooks = waiting;
        due
    };
    for hook in due {
        (hook.change)();
    }
}
