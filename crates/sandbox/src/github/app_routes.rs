//! Handlers of the GitHub App endpoints (JWT only, see `app::admit`): the App itself, its
//! installations, minting installation tokens, and a repository's installation. In token mode
//! (no App) they answer 404 like any unknown route.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::app::{App, AppState, Installation};
use super::reply::{docs, Answer, Reply};
use super::wire::ts;
use super::Shared;

/// The events the sandbox App subscribes to.
const EVENTS: [&str; 2] = ["issues", "issue_comment"];

pub fn routes(router: Router<Arc<Shared>>) -> Router<Arc<Shared>> {
    router
        .route("/app", get(get_app))
        .route("/app/installations", get(list_installations))
        .route("/app/installations/{installation_id}", get(get_installation))
        .route("/app/installations/{installation_id}/access_tokens", post(create_token))
        .route("/repos/{owner}/{repo}/installation", get(repo_installation))
        .route("/orgs/{account}/installation", get(org_installation))
        .route("/users/{account}/installation", get(user_installation))
}

/// What an installation object needs, copied out so the App lock is not held while rendering.
struct InstallationView {
    id: u64,
    account: String,
    permissions: Value,
    created_at: DateTime<Utc>,
    app_id: u64,
    app_slug: String,
}

fn view(app: &App, installation: &Installation) -> InstallationView {
    InstallationView {
        id: installation.id,
        account: installation.account.clone(),
        permissions: installation.permissions(),
        created_at: installation.created_at,
        app_id: app.id,
        app_slug: app.slug.clone(),
    }
}

/// The installations `pick` selects, or 404 in token mode.
fn views(
    s: &Shared,
    pick: impl Fn(&AppState, &Installation) -> bool,
    doc: &str,
) -> Result<Vec<InstallationView>, Reply> {
    let state = s.app.lock().unwrap();
    let app = state.app.as_ref().ok_or_else(|| Reply::not_found(doc))?;
    Ok(state.installations.iter().filter(|i| pick(&state, i)).map(|i| view(app, i)).collect())
}

fn installation_json(s: &Shared, i: &InstallationView) -> Value {
    let model = s.model.lock().unwrap();
    let wire = s.wire(&model);
    let account = wire.user(&i.account);
    json!({
        "id": i.id,
        "client_id": format!("Iv1.{:016x}", i.app_id),
        "account": account,
        "repository_selection": "all",
        "access_tokens_url": format!("{}/app/installations/{}/access_tokens", s.base, i.id),
        "repositories_url": format!("{}/installation/repositories", s.base),
        "html_url": format!("{}/organizations/{}/settings/installations/{}", s.base, i.account, i.id),
        "app_id": i.app_id,
        "app_slug": i.app_slug,
        "target_id": account["id"],
        "target_type": account["type"],
        "permissions": i.permissions,
        "events": EVENTS,
        "created_at": ts(i.created_at),
        "updated_at": ts(i.created_at),
        "single_file_name": null,
        "has_multiple_single_files": false,
        "single_file_paths": [],
        "suspended_by": null,
        "suspended_at": null,
    })
}

/// `GET /app`: the authenticated App.
async fn get_app(State(s): State<Arc<Shared>>) -> Answer {
    let installations_count = s.app.lock().unwrap().installations.len();
    let model = s.model.lock().unwrap();
    let app = model.app.as_ref().ok_or_else(|| Reply::not_found(docs::GET_APP))?;
    let mut body = s.wire(&model).app(app);
    body["installations_count"] = json!(installations_count);
    Ok(Reply::ok(body))
}

/// `GET /app/installations`: every installation, oldest first.
async fn list_installations(State(s): State<Arc<Shared>>) -> Answer {
    let list = views(&s, |_, _| true, docs::GET_INSTALLATION)?;
    Ok(Reply::ok(Value::Array(list.iter().map(|i| installation_json(&s, i)).collect())))
}

fn installation_id(p: &HashMap<String, String>) -> Option<u64> {
    p.get("installation_id").and_then(|id| id.parse().ok())
}

/// `GET /app/installations/{id}`: 404 for an unknown id.
async fn get_installation(State(s): State<Arc<Shared>>, Path(p): Path<HashMap<String, String>>) -> Answer {
    let doc = docs::GET_INSTALLATION;
    let id = installation_id(&p);
    let found = views(&s, |_, i| Some(i.id) == id, doc)?;
    let installation = found.first().ok_or_else(|| Reply::not_found(doc))?;
    Ok(Reply::ok(installation_json(&s, installation)))
}

/// `POST /app/installations/{id}/access_tokens`: 201 with a fresh token for the installation's
/// repositories and permissions (the request body's narrowing is not modelled).
async fn create_token(State(s): State<Arc<Shared>>, Path(p): Path<HashMap<String, String>>) -> Answer {
    let doc = docs::CREATE_TOKEN;
    let now = s.now();
    let mut state = s.app.lock().unwrap();
    state.app.as_ref().ok_or_else(|| Reply::not_found(doc))?;
    let id = installation_id(&p).filter(|id| state.installation(*id).is_some()).ok_or_else(|| Reply::not_found(doc))?;
    let (token, expires_at) = state.mint(id, now);
    let permissions = state.installation(id).map(Installation::permissions);
    Ok(Reply::json(
        StatusCode::CREATED,
        json!({
            "token": token,
            "expires_at": ts(expires_at),
            "permissions": permissions,
            "repository_selection": "all",
        }),
    ))
}

/// `GET /repos/{owner}/{repo}/installation`: the installation on the repository's account, or
/// 404 when the App is not installed there (or the repository does not exist).
async fn repo_installation(State(s): State<Arc<Shared>>, Path(p): Path<HashMap<String, String>>) -> Answer {
    let doc = docs::REPO_INSTALLATION;
    let owner = {
        let model = s.model.lock().unwrap();
        let (owner, name) = (p.get("owner").map_or("", String::as_str), p.get("repo").map_or("", String::as_str));
        let index = model.repo_by_name(owner, name).ok_or_else(|| Reply::not_found(doc))?;
        model.repos[index].owner.clone()
    };
    let found = views(&s, |state, i| state.installation_for(&owner).is_some_and(|f| f.id == i.id), doc)?;
    let installation = found.first().ok_or_else(|| Reply::not_found(doc))?;
    Ok(Reply::ok(installation_json(&s, installation)))
}

/// `GET /orgs/{org}/installation` and `GET /users/{username}/installation`: the installation on
/// the account, or 404. FACTS (actions/create-github-app-token `getTokenFromOwner`: "This
/// endpoint works for both users and organizations"): the `users` one answers for an
/// organisation too. ASSUMED: the `orgs` one answers for a user's account as well (the fake
/// does not tell organisations from users; GitHub presumably answers 404, which the client's
/// fallback to `users` covers); no capture found.
async fn account_installation(s: &Shared, p: &HashMap<String, String>, doc: &str) -> Answer {
    let account = p.get("account").map_or("", String::as_str);
    let found = views(s, |state, i| state.installation_for(account).is_some_and(|f| f.id == i.id), doc)?;
    let installation = found.first().ok_or_else(|| Reply::not_found(doc))?;
    Ok(Reply::ok(installation_json(s, installation)))
}

async fn org_installation(State(s): State<Arc<Shared>>, Path(p): Path<HashMap<String, String>>) -> Answer {
    account_installation(&s, &p, docs::ORG_INSTALLATION).await
}

async fn user_installation(State(s): State<Arc<Shared>>, Path(p): Path<HashMap<String, String>>) -> Answer {
    account_installation(&s, &p, docs::USER_INSTALLATION).await
}
