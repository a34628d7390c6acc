//! ticket-sync's core: the domain types, the validated rules as plain data, the pure planners
//! (routing, escalation, push-back, note order, link references, fixes) and every text
//! ticket-sync writes, one module per kind: the issue (`body.rs`), the notes on tickets
//! (`notetext.rs`), the comments on issues (`commenttext.rs`), with their markers and the event
//! keys they name (`eventkey.rs`), and redaction (`redact.rs`). No I/O, no async runtime, no
//! HTTP, no database, and the host's clock only in `clock.rs`, which no planner imports: what
//! the rest of ticket-sync decides is decided here, on values, so it can be tested as tables.

pub mod body;
pub mod clock;
pub mod closeref;
pub mod commenttext;
pub mod cron;
pub mod domain;
pub mod escplan;
pub mod eventkey;
pub mod fixplan;
pub mod linkref;
pub mod noteorder;
pub mod notetext;
pub mod pushplan;
pub mod redact;
pub mod route;
pub mod rules;
