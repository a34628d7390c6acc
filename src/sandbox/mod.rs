//! The built-in sandbox: stateful fake Zendesk and GitHub servers on loopback, used by `demo` and the tests.
pub mod common;
pub mod zendesk;
