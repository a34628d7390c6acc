//! The push-back pass: GitHub issue changes → Zendesk notes and statuses.
//!
//! Not implemented yet (issue 3): the pass records itself and does nothing else.

use tokio_util::sync::CancellationToken;

use super::{Engine, PassError, PassReport};

pub(super) async fn run(_engine: &Engine, _cancel: &CancellationToken) -> Result<PassReport, PassError> {
    Ok(PassReport::new("push"))
}
