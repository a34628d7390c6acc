//! ticket-sync's own identity on each service: the GitHub login and the Zendesk user id its
//! tokens belong to. Reconciliation adopts only what this identity wrote, so text a customer or
//! a colleague wrote (however it quotes a marker) never counts as ticket-sync's own.

use std::sync::Arc;

use super::{Engine, PassError};
use ticket_sync_core::domain::{GithubIdentity, UserId, ZendeskIdentity};

/// The login ticket-sync writes to GitHub as: from memory, else from the database (stored
/// with the credential's id, so a new token or App is asked again), else once from GitHub
/// (`GET /user` for a token, `GET /app` for an App: `{slug}[bot]`).
pub(super) async fn github_login(engine: &Engine) -> Result<String, PassError> {
    Ok(github_identity(engine).await?.login.clone())
}

/// ticket-sync's GitHub identity now, and the logins it wrote as before (see `GithubIdentity`).
/// An identity that cannot be read from the database or kept there (a full disk) is an error:
/// nothing may be written by an identity the database does not know.
pub(super) async fn github_identity(engine: &Engine) -> Result<Arc<GithubIdentity>, PassError> {
    if let Some(known) = engine.github_login.lock().unwrap().clone() {
        return Ok(known);
    }
    let credential = &engine.github_token_id;
    let login = match engine.store.github_login(credential)? {
        Some(login) => login,
        None => {
            let login = engine.github.whoami().await?;
            if !engine.dry_run {
                // When this identity began, on GitHub's clock (just read from its answer): what
                // a former one did before it is ticket-sync's.
                // (`whoami` was GitHub's answer, so its clock is known here.)
                let began = engine.stats.service_now::<ticket_sync_core::domain::GithubClock>().utc();
                // GitHub stamps whole seconds: a former login's write stamped in the second
                // the switch began is not counted as before it.
                let began = chrono::SubsecRound::trunc_subsecs(began, 0);
                engine.store.record_github_login(credential, &login, began)?;
            }
            login
        }
    };
    let since = engine.store.github_login_since(credential)?;
    let mut former: Vec<String> = (engine.store.github_logins()?.into_iter())
        .filter(|(c, _)| c != credential)
        .map(|(_, login)| login)
        .filter(|l| !l.eq_ignore_ascii_case(&login))
        .collect();
    former.sort();
    former.dedup();
    let identity = Arc::new(GithubIdentity { login, former, since });
    *engine.github_login.lock().unwrap() = Some(identity.clone());
    Ok(identity)
}

/// The Zendesk user ticket-sync writes as, read the same way: memory, the database under the
/// credential's id, else once from Zendesk (`GET /api/v2/users/me.json`, with the OAuth token
/// or the API token); with the users it wrote as under earlier credentials (an API token before
/// a switch to OAuth), so its earlier notes stay its own.
pub(super) async fn zendesk_identity(engine: &Engine) -> Result<Arc<ZendeskIdentity>, PassError> {
    if let Some(known) = engine.zendesk_user.lock().unwrap().clone() {
        return Ok(known);
    }
    let credential = &engine.zendesk_token_id;
    let user = match engine.store.zendesk_user(credential)? {
        Some(id) => id,
        None => {
            let (id, _) = engine.zendesk.whoami().await?;
            if !engine.dry_run {
                engine.store.record_zendesk_user(credential, id)?;
            }
            id
        }
    };
    let mut former: Vec<UserId> = (engine.store.zendesk_users()?.into_iter())
        .filter(|(c, _)| c != credential)
        .map(|(_, id)| id)
        .filter(|id| *id != user)
        .collect();
    former.sort_unstable();
    former.dedup();
    let identity = Arc::new(ZendeskIdentity { user, former });
    *engine.zendesk_user.lock().unwrap() = Some(identity.clone());
    Ok(identity)
}

/// Both identities read and kept before a pass writes anything: a write whose answer is lost
/// is then always by an identity the database knows, whatever credential a later process
/// uses (a crash right after a write, then a switch from a token to OAuth or an App). Costs a
/// request per service only the first time a credential is used with a database. An identity
/// the database cannot keep (a full disk) stops the pass before anything is written.
pub(super) async fn record_writers(engine: &Engine) -> Result<(), PassError> {
    if engine.dry_run {
        return Ok(());
    }
    zendesk_identity(engine).await?;
    github_identity(engine).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use ticket_sync_clients::github::ends_with_marker;

    #[test]
    fn a_marker_counts_only_on_its_own_last_line() {
        let m = "[ticket-sync:link zendesk=7]";
        assert!(ends_with_marker(&format!("note\n\n{m}\n"), m));
        assert!(ends_with_marker(m, m));
        assert!(!ends_with_marker(&format!("note {m}"), m));
        assert!(!ends_with_marker(&format!("{m}\nmore"), m));
    }
}
