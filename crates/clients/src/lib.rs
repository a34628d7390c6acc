//! ticket-sync's clients of Zendesk and GitHub: the transport (`http`: errors classified by
//! what they mean, headers, TLS, timeouts, sending), rate limits and pacing (`limits`,
//! `ratelimit`), lenient reading of remote JSON (`lenient`), secrets and the scrubber
//! (`secret`), and the two clients, whose wire types never leave them: they return the core's
//! domain types and classified `ApiError`s.

pub mod github;
pub mod http;
pub mod lenient;
pub mod limits;
pub mod ratelimit;
pub mod secret;
pub mod zendesk;
