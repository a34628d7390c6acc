//! The host's clock: the one place ticket-sync reads it (`now`). Everything else takes time as
//! an argument or asks here, so where host time enters is one search away, and the planners of
//! this crate, which never import this module, stay functions of their inputs.
//!
//! Host time is a plain `DateTime<Utc>`; a moment on a service's clock is a `ServiceTime` of
//! that service (`domain::GithubTime`, `domain::ZendeskTime`), so the two do not mix unnoticed.

use chrono::{DateTime, Utc};

/// This host's time now.
pub fn now() -> DateTime<Utc> {
    Utc::now()
}
