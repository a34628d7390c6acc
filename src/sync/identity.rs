//! ticket-sync's own identity on each service: the GitHub login and the Zendesk user id its
//! tokens belong to. Reconciliation adopts only what this identity wrote, so text a customer or
//! a colleague wrote (however it quotes a marker) never counts as ticket-sync's own.

use super::Engine;
use crate::http::ApiError;

/// The GitHub token's login: from memory, else from the database (stored with the token's id,
/// so a new token is asked again), else from `GET /user` once.
pub(super) async fn github_login(engine: &Engine) -> Result<String, ApiError> {
    if let Some(login) = engine.github_login.lock().unwrap().clone() {
        return Ok(login);
    }
    let key = format!("github_login:{}", engine.github_token_id);
    let login = match engine.store.meta(&key).ok().flatten() {
        Some(login) => login,
        None => {
            let login = engine.github.whoami().await?;
            if !engine.dry_run {
                let _ = engine.store.meta_get_or_set(&key, &login);
            }
            login
        }
    };
    *engine.github_login.lock().unwrap() = Some(login.clone());
    Ok(login)
}

/// The Zendesk API user's id (`GET /api/v2/users/me.json`), read the same way: memory, the
/// database under the token's id, else once from Zendesk.
pub(super) async fn zendesk_user(engine: &Engine) -> Result<u64, ApiError> {
    if let Some(id) = *engine.zendesk_user.lock().unwrap() {
        return Ok(id);
    }
    let key = format!("zendesk_user:{}", engine.zendesk_token_id);
    let id = match engine.store.meta(&key).ok().flatten().and_then(|s| s.parse().ok()) {
        Some(id) => id,
        None => {
            let (id, _) = engine.zendesk.whoami().await?;
            if !engine.dry_run {
                let _ = engine.store.meta_get_or_set(&key, &id.to_string());
            }
            id
        }
    };
    *engine.zendesk_user.lock().unwrap() = Some(id);
    Ok(id)
}

pub(super) use crate::github::ends_with_marker;

#[cfg(test)]
mod tests {
    use super::ends_with_marker;

    #[test]
    fn a_marker_counts_only_on_its_own_last_line() {
        let m = "[ticket-sync:link zendesk=7]";
        assert!(ends_with_marker(&format!("note\n\n{m}\n"), m));
        assert!(ends_with_marker(m, m));
        assert!(!ends_with_marker(&format!("note {m}"), m));
        assert!(!ends_with_marker(&format!("{m}\nmore"), m));
    }
}
