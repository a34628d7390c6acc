//! Tests of `GET /api/v2/tickets/{id}/comments`: the comment shape, cursor pagination in
//! both orders, offset pagination and the page-size limit.

use reqwest::StatusCode;
use serde_json::{json, Value};

use super::{json_of, sandbox, NewTicket, Sandbox};

/// A ticket with an attachment on its first comment and `replies` more customer comments.
fn ticket_with_comments(sb: &Sandbox, replies: usize) -> u64 {
    let user = sb.zd.add_user("Carla", "carla@acme.test", None);
    let mut new = NewTicket::new("Logs", "See attached.", user);
    new.attachments = vec![("crash.log".into(), "text/plain".into())];
    let id = sb.zd.add_ticket(new);
    for n in 1..=replies {
        sb.zd.add_public_comment(id, user, &format!("reply {n}"));
    }
    id
}

fn bodies(page: &Value) -> Vec<String> {
    page["comments"].as_array().unwrap().iter().map(|c| c["body"].as_str().unwrap().to_string()).collect()
}

async fn get_json(sb: &Sandbox, path: &str) -> Value {
    let response = sb.get(path).await;
    assert_eq!(response.status(), StatusCode::OK, "{path}");
    json_of(response).await
}

#[tokio::test]
async fn comments_have_the_real_shape_with_attachments() {
    let sb = sandbox().await;
    let id = ticket_with_comments(&sb, 0);
    let page = get_json(&sb, &format!("/api/v2/tickets/{id}/comments.json")).await;
    let comment = &page["comments"][0];
    for key in ["id", "author_id", "html_body", "plain_body", "audit_id", "via", "created_at", "metadata"] {
        assert!(comment.get(key).is_some(), "comment lacks {key}");
    }
    assert_eq!(comment["type"], json!("Comment"));
    assert_eq!(comment["body"], json!("See attached."));
    assert_eq!(comment["public"], json!(true));
    let attachment = &comment["attachments"][0];
    assert_eq!(attachment["file_name"], json!("crash.log"));
    assert_eq!(attachment["content_type"], json!("text/plain"));
    assert!(attachment["content_url"].as_str().unwrap().contains("crash.log"));
    assert!(attachment["size"].as_u64().unwrap() > 0);
    assert_eq!(sb.zd.comments(id)[0].attachments, vec!["crash.log"]);
}

#[tokio::test]
async fn cursor_pagination_walks_every_page_and_stops_on_has_more() {
    let sb = sandbox().await;
    let id = ticket_with_comments(&sb, 4);
    let mut path = format!("/api/v2/tickets/{id}/comments.json?page[size]=2");
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let page = get_json(&sb, &path).await;
        pages += 1;
        seen.extend(bodies(&page));
        if page["meta"]["has_more"] == json!(false) {
            // As on the real API, the last non-empty page still links onwards.
            assert!(page["links"]["next"].is_string());
            break;
        }
        let next = page["links"]["next"].as_str().unwrap();
        path = next.strip_prefix(&sb.zd.base_url()).unwrap().to_string();
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, vec!["See attached.", "reply 1", "reply 2", "reply 3", "reply 4"]);
}

#[tokio::test]
async fn cursor_pagination_sorts_newest_first_and_goes_back_with_page_before() {
    let sb = sandbox().await;
    let id = ticket_with_comments(&sb, 3);
    let base = format!("/api/v2/tickets/{id}/comments.json");
    let first = get_json(&sb, &format!("{base}?page[size]=2&sort=-created_at")).await;
    assert_eq!(bodies(&first), vec!["reply 3", "reply 2"]);
    let next = first["links"]["next"].as_str().unwrap().strip_prefix(&sb.zd.base_url()).unwrap().to_string();
    let second = get_json(&sb, &next).await;
    assert_eq!(bodies(&second), vec!["reply 1", "See attached."]);
    assert_eq!(second["meta"]["has_more"], json!(false));
    let prev = second["links"]["prev"].as_str().unwrap().strip_prefix(&sb.zd.base_url()).unwrap().to_string();
    assert_eq!(bodies(&get_json(&sb, &prev).await), vec!["reply 3", "reply 2"]);
}

#[tokio::test]
async fn an_empty_cursor_page_has_null_cursors_and_links() {
    let sb = sandbox().await;
    let id = ticket_with_comments(&sb, 0);
    let first = get_json(&sb, &format!("/api/v2/tickets/{id}/comments.json?page[size]=5")).await;
    let next = first["links"]["next"].as_str().unwrap().strip_prefix(&sb.zd.base_url()).unwrap().to_string();
    let empty = get_json(&sb, &next).await;
    let expected_meta = json!({"has_more": false, "after_cursor": null, "before_cursor": null});
    assert_eq!(empty["meta"], expected_meta);
    assert_eq!(empty["links"], json!({"next": null, "prev": null}));
}

#[tokio::test]
async fn page_size_over_100_and_foreign_cursors_are_400() {
    let sb = sandbox().await;
    let id = ticket_with_comments(&sb, 0);
    for query in ["page[size]=101", "page[size]=0", "page[after]=garbage"] {
        let response = sb.get(&format!("/api/v2/tickets/{id}/comments.json?{query}")).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(json_of(response).await["error"], json!("InvalidPaginationParameter"));
    }
}

#[tokio::test]
async fn offset_pagination_reports_count_and_page_links() {
    let sb = sandbox().await;
    let id = ticket_with_comments(&sb, 2);
    let page = get_json(&sb, &format!("/api/v2/tickets/{id}/comments?per_page=2")).await;
    assert_eq!(page["count"], json!(3));
    assert_eq!(bodies(&page), vec!["See attached.", "reply 1"]);
    assert_eq!(page["previous_page"], Value::Null);
    let next = page["next_page"].as_str().unwrap().strip_prefix(&sb.zd.base_url()).unwrap().to_string();
    let last = get_json(&sb, &next).await;
    assert_eq!(bodies(&last), vec!["reply 2"]);
    assert_eq!(last["next_page"], Value::Null);
    assert!(last["previous_page"].is_string());
    assert!(last.get("meta").is_none());
}

#[tokio::test]
async fn offset_pagination_ends_at_the_ten_thousandth_record() {
    let sb = sandbox().await;
    let id = ticket_with_comments(&sb, 2);
    let deepest = get_json(&sb, &format!("/api/v2/tickets/{id}/comments?page=10000&per_page=1")).await;
    assert_eq!(bodies(&deepest), Vec::<String>::new());
    for query in ["page=10001&per_page=1", "page=101&per_page=100", "page=101"] {
        let response = sb.get(&format!("/api/v2/tickets/{id}/comments.json?{query}")).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(json_of(response).await["error"], json!("InvalidPaginationParameter"));
    }
}

#[tokio::test]
async fn comments_of_unknown_ticket_are_404() {
    let sb = sandbox().await;
    let response = sb.get("/api/v2/tickets/31337/comments.json").await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(json_of(response).await["error"], json!("RecordNotFound"));
}
