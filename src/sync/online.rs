//! `check --online`: verify both credentials and every routed repository, printing one line each.

use std::collections::BTreeSet;

use super::Engine;

/// Returns true when everything checked out. Prints what it found to stdout.
pub async fn online_check(engine: &Engine) -> bool {
    let mut ok = true;
    match engine.zendesk.whoami().await {
        Ok((id, role)) => {
            println!("ok    zendesk: authenticated as user {id} (role {})", role.as_deref().unwrap_or("unknown"));
            if role.as_deref().is_some_and(|r| r != "admin") {
                println!("warn  zendesk: the incremental export needs an admin user");
            }
        }
        Err(e) => {
            ok = false;
            println!("FAIL  zendesk: {e}");
        }
    }
    match engine.github.whoami().await {
        Ok(login) => println!("ok    github: authenticated as {login}"),
        Err(e) => {
            ok = false;
            println!("FAIL  github: {e}");
        }
    }
    let repos: BTreeSet<_> = engine.rules.routes.iter().map(|r| r.repo.clone()).collect();
    for repo in repos {
        match engine.github.get_repo(&repo).await {
            Ok(info) if !info.has_issues || info.archived => {
                ok = false;
                println!("FAIL  {repo}: issues are disabled or the repository is archived");
            }
            Ok(info) if info.visibility == "public" && !engine.rules.github.allow_public_repos => {
                ok = false;
                println!("FAIL  {repo}: public repository; set github.allow_public_repos = true to post tickets there");
            }
            Ok(info) => println!("ok    {repo}: exists, issues enabled, {}", info.visibility),
            Err(e) => {
                ok = false;
                println!("FAIL  {repo}: {e}");
            }
        }
    }
    ok
}
