//! Schema migrations, numbered by `PRAGMA user_version`. Append only: never edit a shipped step.

pub const MIGRATIONS: &[&str] = &[
    // 1: mappings, intents, cursors, failures, repos, passes, ledger.
    r#"
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE cursors (name TEXT PRIMARY KEY, value TEXT NOT NULL, updated_at TEXT NOT NULL);
    CREATE TABLE mappings (
        ticket_id        INTEGER PRIMARY KEY,
        repo             TEXT NOT NULL,
        issue_number     INTEGER NOT NULL,
        issue_id         INTEGER NOT NULL,
        issue_url        TEXT NOT NULL,
        issue_state      TEXT NOT NULL,
        state_reason     TEXT,
        link_state       TEXT NOT NULL DEFAULT 'active',
        created_at       TEXT NOT NULL,
        issue_updated_at TEXT,
        last_pushed_at   TEXT,
        UNIQUE (repo, issue_number)
    );
    CREATE TABLE intents (
        key        TEXT PRIMARY KEY,
        ticket_id  INTEGER NOT NULL,
        kind       TEXT NOT NULL,
        repo       TEXT,
        payload    TEXT NOT NULL,
        created_at TEXT NOT NULL,
        attempts   INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX intents_ticket ON intents (ticket_id);
    CREATE TABLE failures (
        ticket_id       INTEGER PRIMARY KEY,
        stage           TEXT NOT NULL,
        error           TEXT NOT NULL,
        attempts        INTEGER NOT NULL,
        first_failed_at TEXT NOT NULL,
        last_failed_at  TEXT NOT NULL,
        next_attempt_at TEXT NOT NULL,
        parked          INTEGER NOT NULL DEFAULT 0,
        ticket          TEXT
    );
    CREATE TABLE repos (
        repo       TEXT PRIMARY KEY,
        repo_id    INTEGER,
        visibility TEXT NOT NULL,
        has_issues INTEGER NOT NULL,
        checked_at TEXT NOT NULL
    );
    CREATE TABLE passes (
        kind        TEXT PRIMARY KEY,
        started_at  TEXT NOT NULL,
        finished_at TEXT,
        outcome     TEXT,
        summary     TEXT
    );
    CREATE TABLE ledger (
        id        INTEGER PRIMARY KEY AUTOINCREMENT,
        ticket_id INTEGER NOT NULL,
        at        TEXT NOT NULL,
        event     TEXT NOT NULL,
        side      TEXT NOT NULL,
        remote_id TEXT,
        detail    TEXT
    );
    CREATE INDEX ledger_ticket ON ledger (ticket_id, id);
    CREATE TABLE budgets (
        service   TEXT PRIMARY KEY,
        lim       INTEGER,
        remaining INTEGER,
        reset_at  TEXT,
        seen_at   TEXT NOT NULL
    );
    "#,
    // 2: push-back: per-repo watermarks, the issue's close time on the mapping, ledger lookups by event key.
    r#"
    CREATE TABLE watermarks (
        repo            TEXT PRIMARY KEY,
        issues_since    TEXT,
        issues_etag     TEXT,
        comments_since  TEXT,
        comments_etag   TEXT,
        last_comment_id INTEGER,
        last_event_id   INTEGER,
        updated_at      TEXT NOT NULL
    );
    ALTER TABLE mappings ADD COLUMN closed_at TEXT;
    CREATE INDEX ledger_event_key ON ledger (ticket_id, detail);
    "#,
    // 3: forwarding: per linked ticket, the last Zendesk comment id forwarding has looked at.
    r#"
    CREATE TABLE forward_marks (
        ticket_id       INTEGER PRIMARY KEY,
        last_comment_id INTEGER NOT NULL,
        updated_at      TEXT NOT NULL
    );
    "#,
    // 4: re-escalation: whether the ticket was last seen without its escalation tags.
    r#"
    ALTER TABLE mappings ADD COLUMN escalation_lost INTEGER NOT NULL DEFAULT 0;
    "#,
    // 5: the audit pass: each linked issue's ETag, so an unchanged issue costs a free 304.
    r#"
    ALTER TABLE mappings ADD COLUMN issue_etag TEXT;
    "#,
    // 6: the push pass asks which repositories have active links; an index answers without a scan.
    r#"
    CREATE INDEX mappings_active_repo ON mappings (link_state, repo);
    "#,
    // 7: only ledger lines with an event key need the event-key index (smaller database).
    r#"
    DROP INDEX ledger_event_key;
    CREATE INDEX ledger_event_key ON ledger (ticket_id, detail) WHERE detail IS NOT NULL;
    "#,
    // 8: forwarding's first look: the ticket's `updated_at` (Zendesk's clock) when it was
    // escalated; public comments created after it are new, even before the link note exists.
    r#"
    ALTER TABLE mappings ADD COLUMN escalated_ticket_at TEXT;
    "#,
    // 9: failures are kept per (ticket, stage), each with its class and its own snapshot; a
    // configuration-dependent failure remembers the configuration epoch it failed under.
    r#"
    CREATE TABLE failures_v9 (
        ticket_id       INTEGER NOT NULL,
        stage           TEXT NOT NULL,
        class           TEXT NOT NULL DEFAULT 'item',
        epoch           TEXT,
        error           TEXT NOT NULL,
        attempts        INTEGER NOT NULL,
        first_failed_at TEXT NOT NULL,
        last_failed_at  TEXT NOT NULL,
        next_attempt_at TEXT NOT NULL,
        parked          INTEGER NOT NULL DEFAULT 0,
        ticket          TEXT,
        PRIMARY KEY (ticket_id, stage)
    );
    INSERT INTO failures_v9 (ticket_id, stage, error, attempts, first_failed_at, last_failed_at, next_attempt_at, parked, ticket)
        SELECT ticket_id, stage, error, attempts, first_failed_at, last_failed_at, next_attempt_at, parked, ticket FROM failures;
    DROP TABLE failures;
    ALTER TABLE failures_v9 RENAME TO failures;
    "#,
    // 10: rate-limit blocks per service and scope, so a new process honours a wait it was told.
    r#"
    CREATE TABLE limit_blocks (
        service TEXT NOT NULL,
        scope   TEXT NOT NULL,
        until   TEXT NOT NULL,
        reason  TEXT NOT NULL,
        set_at  TEXT NOT NULL,
        PRIMARY KEY (service, scope)
    );
    "#,
    // 11: when an intent's write was last attempted: it is not sent again until the server
    // must have finished that attempt (`settle_seconds`).
    r#"
    ALTER TABLE intents ADD COLUMN attempted_at TEXT;
    "#,
    // 12: when each kind of pass last finished without failing (status, alerting).
    r#"
    ALTER TABLE passes ADD COLUMN last_success_at TEXT;
    "#,
    // v13: many tickets on one issue. `(repo, issue_number)` is no longer unique; a ticket still
    // has at most one mapping (its primary key), which says how it was linked. The link field's
    // last value acted on, and the issue's "linked tickets" comment.
    r#"
    CREATE TABLE mappings_v13 (
        ticket_id           INTEGER PRIMARY KEY,
        repo                TEXT NOT NULL,
        issue_number        INTEGER NOT NULL,
        issue_id            INTEGER NOT NULL,
        issue_url           TEXT NOT NULL,
        issue_state         TEXT NOT NULL,
        state_reason        TEXT,
        link_state          TEXT NOT NULL DEFAULT 'active',
        created_at          TEXT NOT NULL,
        issue_updated_at    TEXT,
        last_pushed_at      TEXT,
        closed_at           TEXT,
        escalation_lost     INTEGER NOT NULL DEFAULT 0,
        issue_etag          TEXT,
        escalated_ticket_at TEXT,
        linked_by           TEXT NOT NULL DEFAULT 'escalation',
        impact_line         TEXT
    );
    INSERT INTO mappings_v13 (ticket_id, repo, issue_number, issue_id, issue_url, issue_state, state_reason,
            link_state, created_at, issue_updated_at, last_pushed_at, closed_at, escalation_lost, issue_etag,
            escalated_ticket_at)
        SELECT ticket_id, repo, issue_number, issue_id, issue_url, issue_state, state_reason,
            link_state, created_at, issue_updated_at, last_pushed_at, closed_at, escalation_lost, issue_etag,
            escalated_ticket_at FROM mappings;
    DROP TABLE mappings;
    ALTER TABLE mappings_v13 RENAME TO mappings;
    CREATE INDEX mappings_issue ON mappings (repo, issue_number);
    CREATE INDEX mappings_active_repo ON mappings (link_state, repo);
    CREATE TABLE link_fields (
        ticket_id INTEGER PRIMARY KEY,
        value     TEXT NOT NULL,
        seen_at   TEXT NOT NULL
    );
    CREATE TABLE impacts (
        repo         TEXT NOT NULL,
        issue_number INTEGER NOT NULL,
        comment_id   INTEGER,
        body_digest  TEXT,
        dirty        INTEGER NOT NULL DEFAULT 1,
        attempts     INTEGER NOT NULL DEFAULT 0,
        attempted_at TEXT,
        PRIMARY KEY (repo, issue_number)
    );
    "#,
    // v14: webhooks. The `updated_at` of tickets read directly for a delivery (an older copy
    // from the export then says nothing new), and the receiver's counters for `status`.
    r#"
    CREATE TABLE ticket_reads (
        ticket_id  INTEGER PRIMARY KEY,
        updated_at TEXT NOT NULL
    );
    CREATE TABLE webhook_stats (
        source     TEXT PRIMARY KEY,
        stats      TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    "#,
    // v15: each intent's payload says how it reads (`payload.rs`): rows before this read as
    // version 1, the JSON every earlier release wrote; new rows carry the version they are in.
    r#"
    ALTER TABLE intents ADD COLUMN payload_version INTEGER NOT NULL DEFAULT 1;
    "#,
    // v16: following a fix (part 15): per repository, how far pull requests and releases were
    // read; the pull requests that close linked issues; each linked issue's fix; the releases
    // seen; and which release was compared with which fix commit.
    r#"
    CREATE TABLE fix_watermarks (
        repo          TEXT PRIMARY KEY,
        pulls_since   TEXT,
        pulls_etag    TEXT,
        releases_etag TEXT
    );
    CREATE TABLE fix_pulls (
        repo      TEXT NOT NULL,
        number    INTEGER NOT NULL,
        title     TEXT NOT NULL,
        url       TEXT NOT NULL,
        author    TEXT NOT NULL,
        state     TEXT NOT NULL,
        merge_sha TEXT,
        PRIMARY KEY (repo, number)
    );
    CREATE INDEX fix_pulls_merge ON fix_pulls (repo, merge_sha);
    CREATE TABLE fix_pull_issues (
        repo         TEXT NOT NULL,
        number       INTEGER NOT NULL,
        issue_number INTEGER NOT NULL,
        PRIMARY KEY (repo, number, issue_number)
    );
    CREATE INDEX fix_pull_issues_issue ON fix_pull_issues (repo, issue_number);
    CREATE TABLE fix_issues (
        repo         TEXT NOT NULL,
        issue_number INTEGER NOT NULL,
        closed_at    TEXT,
        kind         TEXT NOT NULL,
        commit_sha   TEXT,
        commit_repo  TEXT,
        pr_number    INTEGER,
        pr_title     TEXT,
        pr_url       TEXT,
        reopened     INTEGER NOT NULL DEFAULT 0,
        release_id   INTEGER,
        release_tag  TEXT,
        release_url  TEXT,
        duplicate_of TEXT,
        awaiting_event INTEGER,
        awaiting_actor TEXT,
        PRIMARY KEY (repo, issue_number)
    );
    CREATE TABLE fix_releases (
        repo         TEXT NOT NULL,
        id           INTEGER NOT NULL,
        tag          TEXT NOT NULL,
        url          TEXT NOT NULL,
        prerelease   INTEGER NOT NULL,
        published_at TEXT NOT NULL,
        PRIMARY KEY (repo, id)
    );
    CREATE TABLE fix_checks (
        repo       TEXT NOT NULL,
        release_id INTEGER NOT NULL,
        commit_sha TEXT NOT NULL,
        contained  INTEGER,
        failures   INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (repo, release_id, commit_sha)
    );
    "#,
];
