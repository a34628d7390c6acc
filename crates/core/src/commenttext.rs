//! Every comment ticket-sync writes on a GitHub issue, and the markers that end them: a
//! forwarded Zendesk reply, the comments that stand for replies it could not forward (one too
//! large to read, more than one pass reads), and the linked-tickets comment of a shared issue.
//! Pure: domain values in, text out. A comment's marker is matched against what earlier
//! releases wrote (an interrupted write is looked for by it), so these texts never change
//! lightly. The issue itself is `body.rs`; the notes on tickets, `notetext.rs`.

use url::Url;

use crate::body::{defuse_markers, ticket_url, truncate_chars};
use crate::domain::{Ticket, TicketCommentId, TicketId, BODY_LIMIT};
use crate::redact::Redactor;

/// The marker that ends the issue comment listing its linked tickets.
pub const IMPACT_MARKER: &str = "<!-- ticket-sync:impact -->";

/// Most linked tickets listed one by one in the impact comment; the count covers them all.
const MAX_IMPACT_LINES: usize = 500;

/// The marker at the end of every forwarded comment; push-back never mirrors such a comment.
pub fn forward_marker(zendesk_comment_id: TicketCommentId) -> String {
    format!("<!-- ticket-sync:forwarded zendesk-comment={zendesk_comment_id} -->")
}

/// The marker of the comment that stands for one too large to read, just after `older`.
pub fn unreadable_marker(older: TicketCommentId) -> String {
    format!("<!-- ticket-sync:forwarded zendesk-comment-unreadable-after={older} -->")
}

/// The marker of the comment that says replies after the forward mark `mark` were not read.
pub fn too_many_marker(mark: TicketCommentId) -> String {
    format!("<!-- ticket-sync:forwarded zendesk-comments-not-read-after={mark} -->")
}

/// A public Zendesk reply as a GitHub comment: the author's name (`None`: unknown) and the
/// text, both redacted with their markers defused, cut to GitHub's limit, then the marker.
pub fn forwarded_comment(id: TicketCommentId, author_name: Option<&str>, text: &str, redactor: &Redactor) -> String {
    let name = author_name.map(|n| redactor.redact(n).into_owned());
    let name = defuse_markers(name.as_deref().unwrap_or("A Zendesk user"));
    let name = truncate_chars(&name, 200).to_string();
    let text = defuse_markers(&redactor.redact(text.trim()));
    let marker = forward_marker(id);
    let room = BODY_LIMIT.saturating_sub(200 + name.chars().count() + marker.len());
    let cut = truncate_chars(&text, room);
    let more = if cut.len() < text.len() { "\n\n[… cut; read the whole comment on the ticket]" } else { "" };
    format!("**{name}** wrote on the Zendesk ticket:\n\n{cut}{more}\n\n{marker}\n")
}

/// The comment that says more replies came after the forward mark `mark` than one pass reads
/// (`most`): the oldest are not forwarded, the newest follow it.
pub fn too_many_comment(mark: TicketCommentId, most: usize) -> String {
    format!(
        "More replies came on the Zendesk ticket at once than ticket-sync forwards in one pass (over {most}): \
         the oldest of them are not shown here, only the newest that follow; read them all on the \
         ticket.\n\n{}\n",
        too_many_marker(mark)
    )
}

/// The comment that stands for a reply too large to read (over `cap` bytes), the one just
/// after `older`.
pub fn unreadable_comment(older: TicketCommentId, cap: usize) -> String {
    format!(
        "A comment on the Zendesk ticket is too large for ticket-sync to read (over {} with its \
         formatting and attachments' details), so it is not shown here: read it on the ticket.\n\n{}\n",
        size_words(cap),
        unreadable_marker(older)
    )
}

/// A byte count as people read it: "16 MiB", "40 KB".
fn size_words(bytes: usize) -> String {
    if bytes >= 1 << 20 {
        format!("{} MiB", bytes >> 20)
    } else {
        format!("{} KB", bytes.div_ceil(1000))
    }
}

/// One linked ticket's row in the impact comment: link, organisation and priority, redacted
/// like issue bodies (no requester names or e-mails).
pub fn impact_line(t: &Ticket, zendesk: &Url, redactor: &Redactor) -> String {
    let cell = |s: &str| defuse_markers(&redactor.redact(s)).replace('|', "\\|").replace('\n', " ");
    format!(
        "| [#{}]({}) | {} | {} |",
        t.id,
        ticket_url(zendesk, t.id),
        cell(t.organization.as_deref().unwrap_or("none")),
        cell(t.priority.as_deref().unwrap_or("none"))
    )
}

/// The row of a ticket linked before its details were kept (an escalation from before v13).
pub fn bare_impact_line(id: TicketId, zendesk: &Url) -> String {
    format!("| [#{id}]({}) | | |", ticket_url(zendesk, id))
}

/// The one comment ticket-sync keeps up to date on an issue that tickets were linked to:
/// how many tickets are linked, and a row for each. Edited in place, so it notifies nobody.
pub fn impact_comment(lines: &[String]) -> String {
    let n = lines.len();
    let mut out = format!(
        "**Customer impact** (kept up to date by ticket-sync): {n} Zendesk ticket{} linked to this issue.\n\n",
        if n == 1 { " is" } else { "s are" }
    );
    if n > 0 {
        out.push_str("| Ticket | Organisation | Priority |\n|---|---|---|\n");
        // Room for the "… and N more" line and the marker: never over GitHub's limit.
        let room = BODY_LIMIT - 200;
        let mut shown = 0;
        for line in lines.iter().take(MAX_IMPACT_LINES) {
            if out.chars().count() + line.chars().count() + 1 > room {
                break;
            }
            out.push_str(line);
            out.push('\n');
            shown += 1;
        }
        if n > shown {
            out.push_str(&format!("\n… and {} more.\n", n - shown));
        }
    }
    out.push_str(&format!("\n{IMPACT_MARKER}\n"));
    out
}

#[cfg(test)]
mod tests {
    //! The expected texts are what the release before this module wrote, byte for byte.

    use super::*;
    use crate::rules::Redaction;

    fn redactor() -> Redactor {
        Redactor::new(Redaction { emails: true, phones: true, patterns: vec![] })
    }

    fn zendesk() -> Url {
        Url::parse("https://acme.zendesk.com").unwrap()
    }

    #[test]
    fn forward_markers_keep_the_forms_earlier_releases_wrote() {
        assert_eq!(forward_marker(TicketCommentId(123)), "<!-- ticket-sync:forwarded zendesk-comment=123 -->");
        assert_eq!(
            unreadable_marker(TicketCommentId(122)),
            "<!-- ticket-sync:forwarded zendesk-comment-unreadable-after=122 -->"
        );
        assert_eq!(
            too_many_marker(TicketCommentId(100)),
            "<!-- ticket-sync:forwarded zendesk-comments-not-read-after=100 -->"
        );
    }

    #[test]
    fn a_forwarded_reply_is_redacted_defused_and_ends_with_its_marker() {
        let text = "  Hi <!-- ticket-sync:zendesk=9 --> call 555-123-4567 @team #12\n";
        assert_eq!(
            forwarded_comment(TicketCommentId(123), Some("Ann Example (ann@example.com)"), text, &redactor()),
            "**Ann Example ([redacted email])** wrote on the Zendesk ticket:\n\n\
             Hi &lt;!-- ticket-sync\u{200b}:zendesk=9 --> call [redacted phone] @\u{200b}team #\u{200b}12\n\n\
             <!-- ticket-sync:forwarded zendesk-comment=123 -->\n"
        );
        assert_eq!(
            forwarded_comment(TicketCommentId(124), None, "hello", &redactor()),
            "**A Zendesk user** wrote on the Zendesk ticket:\n\nhello\n\n\
             <!-- ticket-sync:forwarded zendesk-comment=124 -->\n"
        );
    }

    #[test]
    fn a_long_reply_is_cut_within_githubs_limit_and_says_so() {
        let comment = forwarded_comment(TicketCommentId(125), Some("Bob"), &"x".repeat(70_000), &redactor());
        let want = format!(
            "**Bob** wrote on the Zendesk ticket:\n\n{}\n\n[… cut; read the whole comment on the ticket]\n\n\
             <!-- ticket-sync:forwarded zendesk-comment=125 -->\n",
            "x".repeat(65_283)
        );
        assert_eq!(comment, want);
        assert_eq!(comment.chars().count(), 65_421);
    }

    #[test]
    fn placeholders_say_what_was_not_forwarded_and_why() {
        assert_eq!(
            too_many_comment(TicketCommentId(100), 1000),
            "More replies came on the Zendesk ticket at once than ticket-sync forwards in one pass (over 1000): \
             the oldest of them are not shown here, only the newest that follow; read them all on the ticket.\n\n\
             <!-- ticket-sync:forwarded zendesk-comments-not-read-after=100 -->\n"
        );
        assert_eq!(
            unreadable_comment(TicketCommentId(122), 16 << 20),
            "A comment on the Zendesk ticket is too large for ticket-sync to read (over 16 MiB with its \
             formatting and attachments' details), so it is not shown here: read it on the ticket.\n\n\
             <!-- ticket-sync:forwarded zendesk-comment-unreadable-after=122 -->\n"
        );
        assert_eq!(
            unreadable_comment(TicketCommentId(0), 39_500),
            "A comment on the Zendesk ticket is too large for ticket-sync to read (over 40 KB with its \
             formatting and attachments' details), so it is not shown here: read it on the ticket.\n\n\
             <!-- ticket-sync:forwarded zendesk-comment-unreadable-after=0 -->\n"
        );
    }

    #[test]
    fn the_impact_comment_counts_and_lists_the_linked_tickets() {
        let ticket = Ticket {
            id: TicketId(42),
            subject: "s".into(),
            description: "d".into(),
            status: "open".into(),
            priority: Some("high".into()),
            tags: vec![],
            organization: Some("Acme | Corp <!-- x -->".into()),
            updated_at: None,
            fields: Vec::new(),
        };
        let line = impact_line(&ticket, &zendesk(), &redactor());
        assert_eq!(line, "| [#42](https://acme.zendesk.com/agent/tickets/42) | Acme \\| Corp &lt;!-- x --> | high |");
        let bare = bare_impact_line(TicketId(43), &zendesk());
        assert_eq!(bare, "| [#43](https://acme.zendesk.com/agent/tickets/43) | | |");
        assert_eq!(
            impact_comment(&[]),
            "**Customer impact** (kept up to date by ticket-sync): 0 Zendesk tickets are linked to this issue.\n\n\n\
             <!-- ticket-sync:impact -->\n"
        );
        assert_eq!(
            impact_comment(std::slice::from_ref(&line)),
            "**Customer impact** (kept up to date by ticket-sync): 1 Zendesk ticket is linked to this issue.\n\n\
             | Ticket | Organisation | Priority |\n|---|---|---|\n\
             | [#42](https://acme.zendesk.com/agent/tickets/42) | Acme \\| Corp &lt;!-- x --> | high |\n\n\
             <!-- ticket-sync:impact -->\n"
        );
        assert_eq!(
            impact_comment(&[line, bare]),
            "**Customer impact** (kept up to date by ticket-sync): 2 Zendesk tickets are linked to this issue.\n\n\
             | Ticket | Organisation | Priority |\n|---|---|---|\n\
             | [#42](https://acme.zendesk.com/agent/tickets/42) | Acme \\| Corp &lt;!-- x --> | high |\n\
             | [#43](https://acme.zendesk.com/agent/tickets/43) | | |\n\n<!-- ticket-sync:impact -->\n"
        );
    }

    #[test]
    fn the_impact_comment_lists_at_most_500_tickets_and_counts_the_rest() {
        let lines: Vec<String> = (0..600).map(|i| bare_impact_line(TicketId(i), &zendesk())).collect();
        let comment = impact_comment(&lines);
        assert!(comment.starts_with(
            "**Customer impact** (kept up to date by ticket-sync): 600 Zendesk tickets are linked to this issue.\n\n"
        ));
        assert!(comment.ends_with(
            "| [#499](https://acme.zendesk.com/agent/tickets/499) | | |\n\n… and 100 more.\n\n<!-- ticket-sync:impact -->\n"
        ));
        assert_eq!((comment.len(), comment.matches('\n').count()), (29_480, 508));
    }
}
