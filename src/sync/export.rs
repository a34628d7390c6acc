//! Reading Zendesk's incremental export page by page from a stored cursor, shared by the
//! escalation and forwarding passes (each with its own cursor).

use super::{Engine, PassError};
use ticket_sync_clients::http::ApiError;
use ticket_sync_clients::zendesk::{ExportFrom, ExportPage};
use ticket_sync_core::domain::{Endpoint, Scope};
use ticket_sync_store::StoreError;

/// Where a pass is in the export. The cursor is stored only by `advance`, which the pass calls
/// once every ticket of the page is done or recorded as failed.
pub(super) struct ExportReader {
    cursor: &'static str,
    from: ExportFrom,
    done: bool,
}

impl ExportReader {
    /// Resumes from the stored cursor `cursor`, or starts at `first_start` (Unix seconds).
    pub fn open(
        engine: &Engine,
        cursor: &'static str,
        first_start: impl FnOnce() -> Result<i64, PassError>,
    ) -> Result<Self, PassError> {
        let from = match engine.store.cursor(cursor)? {
            Some(c) => ExportFrom::Cursor(c),
            None => ExportFrom::StartTime(first_start()?),
        };
        Ok(ExportReader { cursor, from, done: false })
    }

    /// The next page, or `None` once the end of the stream was reached, or when the export's
    /// own pace (10 reads a minute, shared by escalation and forwarding) is spent: that is
    /// normal operation, not a failure; the cursor is kept and the next pass reads on.
    pub async fn next_page(&self, engine: &Engine) -> Result<Option<ExportPage>, ApiError> {
        if self.done {
            return Ok(None);
        }
        match engine.zendesk.export_page(&self.from).await {
            Ok(page) => Ok(Some(page)),
            Err(ApiError::RateLimited { scope: Scope::Endpoint(Endpoint::IncrementalExports), until, .. }) => {
                tracing::info!(cursor = self.cursor, next_read_at = %until, "the export's pace is reached; the next pass reads on");
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// Stores the page's cursor (never in a dry run) and decides whether another page follows.
    pub fn advance(&mut self, engine: &Engine, after: Option<String>, end_of_stream: bool) -> Result<(), StoreError> {
        let Some(after) = after else {
            self.done = true;
            return Ok(());
        };
        if !engine.dry_run {
            engine.store.set_cursor(self.cursor, &after)?;
        }
        // A cursor that does not move would loop for ever: stop, the next pass goes on.
        let same = matches!(&self.from, ExportFrom::Cursor(c) if *c == after);
        self.done = end_of_stream || same;
        self.from = ExportFrom::Cursor(after);
        Ok(())
    }
}
