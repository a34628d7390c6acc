//! The built-in sandbox: stateful fake Zendesk and GitHub servers on loopback, used by
//! ticket-sync's `demo`, its tests and its benchmarks. It depends on no crate of ticket-sync's
//! (architecture invariant): it stands in for the services, and knows only their contracts.
//!
//! The fakes follow the real API contracts (see `shared/api-reference/FACTS.md`): they reject
//! what the real services reject, paginate like them, and can inject faults.

pub mod common;
pub mod github;
pub mod hooks;
pub mod zendesk;

use std::sync::Arc;

pub use common::{Clock, Fault, FaultRule, Frontdoor, LoggedRequest, RandomFaults};
pub use github::{
    FakeGithub, MergeMethod, PullView, ReleaseSpec, Visibility, APP_TEST_KEY_PEM, APP_TEST_PUBLIC_KEY_PEM,
    OTHER_RSA_KEY_PEM,
};
pub use hooks::DeliveryView;
pub use zendesk::{FakeZendesk, NewTicket, ZendeskHookBody};

/// Credentials the sandbox accepts. They are sandbox-only values, never real tokens.
pub const ZENDESK_EMAIL: &str = "bot@sandbox.example";
pub const ZENDESK_TOKEN: &str = "sandbox-zendesk-token";
pub const GITHUB_TOKEN: &str = "sandbox-github-token";
/// The sandbox Zendesk's one OAuth client (confidential): its Identifier and secret.
pub const ZENDESK_CLIENT_ID: &str = "ticket_sync_sandbox";
pub const ZENDESK_CLIENT_SECRET: &str = "sandbox-zendesk-client-secret";
/// How long the sandbox's access tokens live (sandbox seconds): two of the tests' one-minute
/// `settle` steps, so tokens expire and are renewed all through every test.
pub const ZENDESK_TOKEN_LIFE_SECS: u64 = 120;
/// Set to `token` to start `Sandbox::start`'s fake Zendesk with API tokens on and write rules
/// that use one (`email` + `token_env`); by default the sandbox is OAuth only, as Zendesk is
/// from 2027-04-30.
pub const ZENDESK_AUTH_ENV: &str = "TICKET_SYNC_SANDBOX_ZENDESK_AUTH";

/// How `Sandbox::start` authenticates to Zendesk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ZendeskAuthMode {
    /// An OAuth client; API tokens are refused; tokens expire every two minutes.
    OAuth,
    /// An API token (the set-up before part 11).
    ApiToken,
}

/// The Zendesk authentication `Sandbox::start` uses (`TICKET_SYNC_SANDBOX_ZENDESK_AUTH`).
pub fn zendesk_auth_mode() -> ZendeskAuthMode {
    match std::env::var(ZENDESK_AUTH_ENV).as_deref() {
        Ok("token") => ZendeskAuthMode::ApiToken,
        _ => ZendeskAuthMode::OAuth,
    }
}

/// Where GitHub Enterprise Server's REST API answers on its host.
pub const GHES_API_PREFIX: &str = "/api/v3";
/// Set to `1` to start `Sandbox::start`'s fake GitHub in GitHub Enterprise Server's layout.
pub const GHES_ENV: &str = "TICKET_SYNC_SANDBOX_GHES";

/// Whether `Sandbox::start` uses GitHub Enterprise Server's layout (`TICKET_SYNC_SANDBOX_GHES=1`).
pub fn ghes_layout() -> bool {
    std::env::var(GHES_ENV).is_ok_and(|v| v == "1")
}

/// Both fakes and their shared clock.
pub struct Sandbox {
    pub clock: Arc<Clock>,
    pub zendesk: Arc<FakeZendesk>,
    pub github: Arc<FakeGithub>,
}

impl Sandbox {
    /// Starts both fakes on 127.0.0.1 with ephemeral ports. With `TICKET_SYNC_SANDBOX_GHES=1`
    /// in the environment, the fake GitHub takes GitHub Enterprise Server's layout (the API
    /// under `/api/v3`), so the same tests run against both layouts.
    pub async fn start() -> std::io::Result<Sandbox> {
        let clock = Arc::new(Clock::default());
        let zendesk = FakeZendesk::start(ZENDESK_EMAIL, ZENDESK_TOKEN, clock.clone()).await?;
        if zendesk_auth_mode() == ZendeskAuthMode::OAuth {
            zendesk.switch_off_api_tokens(true);
            zendesk.set_token_life(ZENDESK_TOKEN_LIFE_SECS);
        }
        let prefix = if ghes_layout() { GHES_API_PREFIX } else { "" };
        let github = FakeGithub::start_with_prefix(GITHUB_TOKEN, clock.clone(), prefix).await?;
        Ok(Sandbox { clock, zendesk, github })
    }

    /// Moves sandbox time forward past Zendesk's one-minute export delay, so fresh changes show up.
    pub fn settle(&self) {
        self.clock.advance(std::time::Duration::from_secs(61));
    }

    /// The `[zendesk]` keys that authenticate to this sandbox in `mode`; the secrets come
    /// from the environment (`TS_SANDBOX_ZENDESK_SECRET` or `TS_SANDBOX_ZENDESK_TOKEN`).
    pub fn zendesk_auth_toml(mode: ZendeskAuthMode) -> String {
        match mode {
            ZendeskAuthMode::OAuth => {
                format!("client_id = \"{ZENDESK_CLIENT_ID}\"\nclient_secret_env = \"TS_SANDBOX_ZENDESK_SECRET\"")
            }
            ZendeskAuthMode::ApiToken => {
                format!("email = \"{ZENDESK_EMAIL}\"\ntoken_env = \"TS_SANDBOX_ZENDESK_TOKEN\"")
            }
        }
    }

    /// A rules file pointing at this sandbox, with the given `[[route]]` tables appended.
    pub fn rules_toml(&self, state_path: &str, routes: &str) -> String {
        format!(
            r#"[zendesk]
url = "{zd}"
{auth}
# The fake enforces Zendesk's 10 a minute on the sandbox clock, which tests move forward;
# the daemon's own pacing (real time) would only slow the tests down.
export_requests_per_minute = 600
# The fakes carry every request out before they answer (unless a test makes one slow), so a
# look right after a failed write sees everything: no need to wait before writing again.
settle_seconds = 0

[github]
url = "{gh}"
token_env = "TS_SANDBOX_GITHUB_TOKEN"
writes_per_minute = 0
writes_per_hour = 0
settle_seconds = 0

[state]
path = "{state_path}"

[escalation]
tags_any = ["escalated"]
start = "2020-01-01T00:00:00Z"

{routes}
"#,
            zd = self.zendesk.base_url(),
            gh = self.github.base_url(),
            auth = Self::zendesk_auth_toml(zendesk_auth_mode()),
        )
    }
}
