//! Integration tests: the daemon's entry points driven against the sandbox fakes.

mod bad_input;
mod chaos;
mod cli;
mod config_errors;
mod daemon;
mod escalate;
mod forward;
mod github_app;
mod github_app_attack;
mod hard_parts;
mod harness;
mod hostile;
mod identity;
mod idle_cost;
mod limits;
mod linking;
mod linking_attack;
mod lists;
mod no_loss;
mod open_port;
mod pushback;
mod tls;
mod webhooks;
mod webhooks_attack;
mod zendesk_oauth;
mod zendesk_oauth_attack;
