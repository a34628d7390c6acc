//! `check --online`: verify both credentials and every routed repository, printing one line each.

use std::collections::BTreeSet;

use super::Engine;

/// Returns true when everything checked out. Prints what it found to stdout.
pub async fn online_check(engine: &Engine) -> bool {
    let mut ok = true;
    match engine.zendesk.whoami().await {
        Ok((id, role)) => {
            let how = match engine.zendesk.auth_mode() {
                "oauth" => "with an OAuth access token",
                _ => "with an API token",
            };
            say!("ok    zendesk: authenticated {how} as user {id} (role {})", role.as_deref().unwrap_or("unknown"));
            if role.as_deref().is_some_and(|r| r != "admin") {
                say!("warn  zendesk: the incremental export needs an admin user");
            }
            ok &= scopes_ok(engine);
        }
        Err(e) => {
            ok = false;
            say!("FAIL  zendesk: {e}");
        }
    }
    let as_app = if engine.github.is_app() { " (GitHub App: the key signs, GET /app answers)" } else { "" };
    match engine.github.whoami().await {
        Ok(login) => say!("ok    github: authenticated as {login}{as_app}"),
        Err(e) => {
            ok = false;
            say!("FAIL  github: {e}");
        }
    }
    if let Some(linking) = &engine.rules.linking {
        let id = linking.field_id;
        match engine.zendesk.ticket_field(id).await {
            Ok(Some(f)) if !matches!(f.kind.as_str(), "text" | "regexp") => {
                ok = false;
                say!(
                    "FAIL  linking.field_id: field {id} (\"{}\") is of type {}; it must be a text or regexp field",
                    f.title,
                    f.kind
                );
            }
            Ok(Some(f)) if !f.active => {
                ok = false;
                say!("FAIL  linking.field_id: field {id} (\"{}\") is inactive; activate it in Admin Center", f.title);
            }
            Ok(Some(f)) => say!("ok    linking.field_id: field {id} (\"{}\", {})", f.title, f.kind),
            Ok(None) => {
                ok = false;
                say!("FAIL  linking.field_id: Zendesk has no ticket field {id}");
            }
            Err(e) => {
                ok = false;
                say!("FAIL  linking.field_id: {e}");
            }
        }
    }
    let mut repos: BTreeSet<_> = engine.rules.routes.iter().map(|r| r.repo.clone()).collect();
    repos.extend(engine.rules.linking.iter().flat_map(|l| l.repos.iter().cloned()));
    for repo in repos {
        if engine.github.is_app() && !installation_ok(engine, &repo).await {
            ok = false;
            continue;
        }
        match engine.github.get_repo(&repo).await {
            Ok(info) if !info.has_issues || info.archived => {
                ok = false;
                say!("FAIL  {repo}: issues are disabled or the repository is archived");
            }
            Ok(info) if info.visibility == "public" && !engine.rules.github.allow_public_repos => {
                ok = false;
                say!("FAIL  {repo}: public repository; set github.allow_public_repos = true to post tickets there");
            }
            Ok(info) => say!("ok    {repo}: exists, issues enabled, {}", info.visibility),
            Err(e) => {
                ok = false;
                say!("FAIL  {repo}: {e}");
            }
        }
    }
    ok
}

/// In App mode: the repository has an installation of the App that may write issues.
async fn installation_ok(engine: &Engine, repo: &ticket_sync_core::domain::RepoName) -> bool {
    match engine.github.installation_permissions(repo).await {
        Ok(Some((id, permissions))) => {
            // A pinned installation is the one every request uses: it must be this one.
            if let ticket_sync_core::rules::GithubAuth::App(app) = &engine.rules.github.auth {
                if let Some(pinned) = app.installation_id.filter(|pinned| *pinned != id) {
                    say!(
                        "FAIL  {repo}: installation_id = {pinned} in the rules, but the App's installation on {} is {id}; \
                         set installation_id = {id}, or remove it to find each organisation's installation",
                        repo.owner()
                    );
                    return false;
                }
            }
            let issues = permissions.iter().find(|(k, _)| k == "issues").map(|(_, v)| v.as_str());
            if issues == Some("write") {
                say!("ok    {repo}: GitHub App installation {id} may write issues");
                let lacking = fixes_lacking(&permissions);
                if engine.rules.fixes.track && !lacking.is_empty() {
                    say!(
                        "warn  {repo}: GitHub App installation {id} cannot read {}: no fix is followed there ([fixes]); \
                         grant Pull requests and Contents: Read-only in the App's settings, then accept the new \
                         permissions in the installation, or set [fixes] track = false",
                        lacking.join(" or ")
                    );
                }
                true
            } else {
                let has = issues.map_or("no issues permission".to_string(), |v| format!("issues: {v}"));
                say!(
                    "FAIL  {repo}: GitHub App installation {id} lacks the permission issues: write ({has}); \
                     grant Issues: Read and write in the App's settings, then accept the new permissions in the installation"
                );
                false
            }
        }
        Ok(None) => true,
        Err(e) => {
            say!("FAIL  {repo}: {e}");
            false
        }
    }
}

/// The permissions following fixes reads with that an installation lacks (`read` or `write`
/// each will do): `pull_requests` (the pull requests), `contents` (releases and compare).
fn fixes_lacking(permissions: &[(String, String)]) -> Vec<&'static str> {
    let has = |name: &str| permissions.iter().any(|(k, v)| k == name && matches!(v.as_str(), "read" | "write"));
    ["pull_requests", "contents"].into_iter().filter(|p| !has(p)).collect()
}

/// With OAuth: the scopes the token was granted, and a FAIL naming any that ticket-sync needs
/// and lacks. Reads need `read` (`tickets:read` with `users:read` may do, but `tickets:read`
/// was seen not to cover ticket fields, which `[linking]` reads); writes need `write` or
/// `tickets:write`.
fn scopes_ok(engine: &Engine) -> bool {
    let Some(grant) = engine.zendesk.oauth_grant() else { return true };
    if grant.scopes.is_empty() {
        say!("warn  zendesk: the token answer did not say which scopes were granted; requests show it");
        return true;
    }
    let missing = missing_scopes(&grant.scopes, engine.rules.linking.is_some());
    let life = grant.expires_in.map_or("no expiry given".to_string(), |s| format!("expires in {s} s"));
    if missing.is_empty() {
        say!("ok    zendesk: OAuth token granted scopes {} ({life})", grant.scopes.join(" "));
        true
    } else {
        say!(
            "FAIL  zendesk: the OAuth token lacks the scope(s) {} (granted: {}); add them to zendesk.scopes, or \
             leave scopes out for the default, and allow them on the OAuth client in Admin Center",
            missing.join(", "),
            grant.scopes.join(" ")
        );
        false
    }
}

/// The scopes ticket-sync needs that `granted` does not cover.
fn missing_scopes(granted: &[String], linking: bool) -> Vec<&'static str> {
    let has = |s: &str| granted.iter().any(|g| g == s);
    let mut missing = Vec::new();
    let reads = has("read") || (!linking && has("tickets:read") && has("users:read"));
    if !reads {
        missing.push("read");
    }
    if !(has("write") || has("tickets:write")) {
        missing.push("tickets:write");
    }
    missing
}

#[cfg(test)]
mod tests {
    use super::{fixes_lacking, missing_scopes};

    #[test]
    fn the_permissions_fixes_need_are_named_when_missing() {
        let p = |list: &[(&str, &str)]| list.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<Vec<_>>();
        assert!(fixes_lacking(&p(&[("issues", "write"), ("pull_requests", "read"), ("contents", "write")])).is_empty());
        assert_eq!(fixes_lacking(&p(&[("issues", "write"), ("contents", "read")])), ["pull_requests"]);
        assert_eq!(fixes_lacking(&p(&[("pull_requests", "none")])), ["pull_requests", "contents"]);
    }

    #[test]
    fn the_scopes_ticket_sync_needs_are_named_when_missing() {
        let s = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(missing_scopes(&s(&["read", "tickets:write"]), true).is_empty());
        assert!(missing_scopes(&s(&["read", "write"]), true).is_empty());
        assert!(missing_scopes(&s(&["tickets:read", "users:read", "tickets:write"]), false).is_empty());
        assert_eq!(missing_scopes(&s(&["tickets:read", "users:read", "tickets:write"]), true), ["read"]);
        assert_eq!(missing_scopes(&s(&["read"]), false), ["tickets:write"]);
        assert_eq!(missing_scopes(&s(&["tickets:write"]), false), ["read"]);
        assert_eq!(missing_scopes(&s(&["users:write"]), false), ["read", "tickets:write"]);
    }
}
