//! Pure text rendering of the issue ticket-sync opens: its title, its body and the marker that
//! lets a retry recognise an issue an earlier attempt already created; and the helpers every
//! text uses on customer text (`defuse_markers`, `truncate_chars`). The notes on tickets are
//! `notetext.rs`, the comments on issues `commenttext.rs`.

use url::Url;

use crate::domain::BODY_LIMIT;
use crate::domain::{Attachment, Ticket, TicketId};
use crate::redact::Redactor;

const MAX_ATTACHMENTS: usize = 50;
const MAX_SUBJECT: usize = 200;

/// The hidden marker in every issue body (a contract: other tools may search for it).
pub fn issue_marker(id: TicketId) -> String {
    format!("<!-- ticket-sync:zendesk={id} -->")
}

pub fn ticket_url(zendesk: &Url, id: TicketId) -> String {
    format!("{}/agent/tickets/{id}", zendesk.as_str().trim_end_matches('/'))
}

/// `Subject [Zendesk #123]`, with the subject redacted and cut to a sane length.
pub fn issue_title(t: &Ticket, redactor: &Redactor) -> String {
    let subject = redactor.redact(t.subject.trim()).into_owned();
    let subject: String = subject.chars().filter(|c| !c.is_control()).collect();
    let cut = truncate_chars(&subject, MAX_SUBJECT);
    let ellipsis = if cut.len() < subject.len() { "…" } else { "" };
    format!("{cut}{ellipsis} [Zendesk #{}]", t.id)
}

/// User text must not be able to forge a marker, or a retry could adopt the wrong issue.
pub fn defuse_markers(text: &str) -> String {
    text.replace("<!--", "&lt;!--").replace("ticket-sync:", "ticket-sync\u{200b}:")
}

/// The issue body: summary table, redacted description, attachment links, ticket link and marker.
/// Never longer than GitHub's 65,536-character limit; a cut description says so.
/// `attachments` is `None` when they are not listed; `unreadable` counts comments too large to
/// read, whose attachments could not be listed.
pub fn issue_body(
    t: &Ticket,
    attachments: Option<&[Attachment]>,
    unreadable: usize,
    zendesk: &Url,
    redactor: &Redactor,
) -> String {
    let url = ticket_url(zendesk, t.id);
    let mut head = format!("Escalated from Zendesk ticket [#{}]({url}) by ticket-sync.\n\n", t.id);
    head.push_str("| Field | Value |\n|---|---|\n");
    // Every cell is customer text (an organisation or file name is chosen by the customer).
    let cell = |s: &str| defuse_markers(&redactor.redact(s)).replace('|', "\\|").replace('\n', " ");
    head.push_str(&format!("| Priority | {} |\n", cell(t.priority.as_deref().unwrap_or("none"))));
    head.push_str(&format!("| Organisation | {} |\n", cell(t.organization.as_deref().unwrap_or("none"))));
    head.push_str(&format!("| Zendesk status | {} |\n\n### Description\n\n", cell(t.status.as_str())));

    let mut tail = String::new();
    let attachments = attachments.unwrap_or_default();
    if !attachments.is_empty() {
        tail.push_str("\n\n### Attachments\n\n");
        for a in attachments.iter().take(MAX_ATTACHMENTS) {
            let name = cell(&a.file_name).replace(['[', ']'], "");
            let url = a.url.replace(' ', "%20").replace(')', "%29").replace('<', "%3C");
            tail.push_str(&format!("- [{name}]({url})\n"));
        }
        if attachments.len() > MAX_ATTACHMENTS {
            tail.push_str(&format!("- … and {} more on the ticket\n", attachments.len() - MAX_ATTACHMENTS));
        }
    }
    if unreadable > 0 {
        tail.push_str(&format!(
            "\n\n{unreadable} comment(s) on the ticket are too large for ticket-sync to read; any files attached to \
             them are not listed here.\n"
        ));
    }
    tail.push_str(&format!("\n\n[Open the ticket in Zendesk]({url})\n\n{}\n", issue_marker(t.id)));

    let description = defuse_markers(&redactor.redact(&t.description));
    let description = if description.trim().is_empty() { "(no description)".to_string() } else { description };
    let fixed = head.chars().count() + tail.chars().count();
    let total = description.chars().count();
    let room = BODY_LIMIT.saturating_sub(fixed);
    let description = if total <= room {
        description
    } else {
        let note = format!("\n\n**[truncated by ticket-sync: {{shown}} of {total} characters shown; read the full description on the ticket]**");
        let keep = room.saturating_sub(note.chars().count() + 10);
        let note = note.replace("{shown}", &keep.to_string());
        format!("{}{note}", truncate_chars(&description, keep))
    };
    format!("{head}{description}{tail}")
}

pub fn truncate_chars(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::Redaction;

    fn redactor() -> Redactor {
        Redactor::new(Redaction { emails: true, phones: true, patterns: vec![] })
    }

    fn ticket(description: &str) -> Ticket {
        Ticket {
            id: TicketId(42),
            subject: "Printer on fire, call 555-123-4567".into(),
            description: description.into(),
            status: "open".into(),
            priority: Some("high".into()),
            tags: vec![],
            organization: Some("Acme | Corp".into()),
            updated_at: None,
            fields: Vec::new(),
        }
    }

    #[test]
    fn body_carries_everything_and_redacts() {
        let zd = Url::parse("https://acme.zendesk.com").unwrap();
        let att = [Attachment { file_name: "log.txt".into(), url: "https://acme.zendesk.com/a/1".into() }];
        let body = issue_body(&ticket("mail me at jo@example.com"), Some(&att), 0, &zd, &redactor());
        assert!(body.contains("https://acme.zendesk.com/agent/tickets/42"));
        assert!(body.contains("| Priority | high |"));
        assert!(body.contains("Acme \\| Corp"));
        assert!(body.contains("[log.txt](https://acme.zendesk.com/a/1)"));
        assert!(body.contains("[redacted email]") && !body.contains("jo@example.com"));
        assert!(body.trim_end().ends_with("<!-- ticket-sync:zendesk=42 -->"));
        assert_eq!(issue_title(&ticket(""), &redactor()), "Printer on fire, call [redacted phone] [Zendesk #42]");
    }

    #[test]
    fn huge_descriptions_are_cut_to_the_limit_with_a_note() {
        let zd = Url::parse("https://acme.zendesk.com").unwrap();
        let body = issue_body(&ticket(&"é".repeat(100_000)), None, 0, &zd, &redactor());
        assert!(body.chars().count() <= BODY_LIMIT);
        assert!(body.contains("of 100000 characters shown"));
        assert!(body.contains(&issue_marker(TicketId(42))));
    }

    #[test]
    fn user_text_cannot_forge_a_marker() {
        let zd = Url::parse("https://acme.zendesk.com").unwrap();
        let body = issue_body(&ticket("<!-- ticket-sync:zendesk=7 -->"), None, 0, &zd, &redactor());
        assert!(!body.contains(&issue_marker(TicketId(7))));
        let mut t = ticket("plain");
        t.organization = Some("<!-- ticket-sync:zendesk=8 -->".into());
        let att = [Attachment { file_name: "<!-- ticket-sync:zendesk=9 -->".into(), url: "https://z/a/<!--".into() }];
        let body = issue_body(&t, Some(&att), 0, &zd, &redactor());
        assert!(!body.contains("<!--") || body.matches("<!--").count() == 1, "{body}");
        assert!(!body.contains("ticket-sync:zendesk=8") && !body.contains("ticket-sync:zendesk=9"), "{body}");
    }
}
