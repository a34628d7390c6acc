//! ticket-sync: escalate Zendesk tickets to GitHub issues and push issue changes back.
//!
//! `main.rs` parses the command line and calls into this library; see ARCHITECTURE.md for the map.
pub mod app;
pub mod cli;
pub mod config;
pub mod crashpoint;
pub mod daemon;
pub mod demo;
pub mod domain;
pub mod github;
pub mod http;
pub mod lenient;
pub mod limits;
pub mod logging;
pub mod metrics;
pub mod notify;
pub mod ratelimit;
pub mod redact;
pub mod sandbox;
pub mod secret;
pub mod serve;
pub mod status;
pub mod store;
pub mod sync;
pub mod webhooks;
pub mod zendesk;
