//! ticket-sync: escalate Zendesk tickets to GitHub issues and push issue changes back.
//!
//! `main.rs` parses the command line and calls into this library; see ARCHITECTURE.md for the map.
pub mod config;
pub mod domain;
pub mod sandbox;
pub mod github;
pub mod http;
pub mod redact;
pub mod secret;
pub mod zendesk;
pub mod store;
pub mod crashpoint;
pub mod sync;
