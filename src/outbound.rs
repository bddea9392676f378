//! The HTTP requests of the HTTP channels, as plain values: one per email API provider, in each API's
//! documented format, and the webhook. The shell only performs them, so their exact shape is tested here.

use base64::Engine as _;
use serde_json::json;

use crate::alert::{Message, Notice};
use crate::mime::bare_address;

/// An HTTP request to perform. Always a POST; the body is already encoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundRequest {
    pub method: &'static str,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl OutboundRequest {
    fn post(url: String, headers: Vec<(&str, String)>, body: String) -> OutboundRequest {
        let headers = headers.into_iter().map(|(n, v)| (n.to_owned(), v)).collect();
        OutboundRequest { method: "POST", url, headers, body }
    }

    /// The first header with this (case-insensitive) name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// An HTTP email API, chosen by `ALERT_EMAIL_PROVIDER`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Provider {
    Resend,
    Postmark,
    Sendgrid,
    /// Mailgun addresses the sending domain in the URL (`MAILGUN_DOMAIN`).
    Mailgun {
        domain: String,
    },
}

impl Provider {
    /// The production base URL, used unless `ALERT_EMAIL_API_BASE` overrides it. Mailgun's EU region is
    /// `https://api.eu.mailgun.net`.
    pub fn default_base(&self) -> &'static str {
        match self {
            Provider::Resend => "https://api.resend.com",
            Provider::Postmark => "https://api.postmarkapp.com",
            Provider::Sendgrid => "https://api.sendgrid.com",
            Provider::Mailgun { .. } => "https://api.mailgun.net",
        }
    }
}

/// Everything an API send needs besides the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiSettings {
    pub provider: Provider,
    pub api_key: String,
    /// Without a trailing slash.
    pub base_url: String,
}

/// The send request for `provider`. `idempotency_key` is the same on every retry of one message; Resend
/// honours it for 24 h (<https://resend.com/docs/dashboard/emails/idempotency-keys>), so a send whose
/// response was lost is not delivered twice. The others have no such header.
pub fn email_request(
    api: &ApiSettings,
    from: &str,
    to: &[String],
    message: &Message,
    idempotency_key: &str,
) -> OutboundRequest {
    let base = api.base_url.trim_end_matches('/');
    let key = &api.api_key;
    let json_type = ("Content-Type", "application/json".to_owned());
    match &api.provider {
        // https://resend.com/docs/api-reference/emails/send-email
        Provider::Resend => OutboundRequest::post(
            format!("{base}/emails"),
            vec![
                ("Authorization", format!("Bearer {key}")),
                json_type,
                ("Idempotency-Key", idempotency_key.to_owned()),
            ],
            json!({ "from": from, "to": to, "subject": message.subject, "html": message.html, "text": message.text })
                .to_string(),
        ),
        // https://postmarkapp.com/developer/user-guide/send-email-with-api: `To` is one comma-separated string.
        Provider::Postmark => OutboundRequest::post(
            format!("{base}/email"),
            vec![("Accept", "application/json".to_owned()), json_type, ("X-Postmark-Server-Token", key.clone())],
            json!({
                "From": from,
                "To": to.join(", "),
                "Subject": message.subject,
                "TextBody": message.text,
                "HtmlBody": message.html,
                "MessageStream": "outbound",
            })
            .to_string(),
        ),
        // https://www.twilio.com/docs/sendgrid/api-reference/mail-send/mail-send: text/plain must come
        // before text/html in `content`.
        Provider::Sendgrid => {
            let recipients: Vec<_> = to.iter().map(|a| json!({ "email": a })).collect();
            OutboundRequest::post(
                format!("{base}/v3/mail/send"),
                vec![("Authorization", format!("Bearer {key}")), json_type],
                json!({
                    "personalizations": [{ "to": recipients }],
                    "from": sendgrid_mailbox(from),
                    "subject": message.subject,
                    "content": [
                        { "type": "text/plain", "value": message.text },
                        { "type": "text/html", "value": message.html },
                    ],
                })
                .to_string(),
            )
        }
        // https://documentation.mailgun.com/docs/mailgun/api-reference/send/mailgun/messages: a form post,
        // HTTP basic auth with user `api`, `to` repeated per recipient.
        Provider::Mailgun { domain } => {
            let credentials = base64::engine::general_purpose::STANDARD.encode(format!("api:{key}"));
            let mut fields = vec![("from", from)];
            fields.extend(to.iter().map(|a| ("to", a.as_str())));
            fields.extend([("subject", message.subject.as_str()), ("text", &message.text), ("html", &message.html)]);
            OutboundRequest::post(
                format!("{base}/v3/{domain}/messages"),
                vec![
                    ("Authorization", format!("Basic {credentials}")),
                    ("Content-Type", "application/x-www-form-urlencoded".to_owned()),
                ],
                form_encode(&fields),
            )
        }
    }
}

/// The webhook POST: Slack (and Mattermost, Discord's `/slack` endpoint, Google Chat) show `text`; other
/// consumers read the structured `notifications`.
pub fn webhook_request(url: &str, message: &Message, notices: &[Notice], sent_at: u64) -> OutboundRequest {
    let text = format!("*{}*\n{}", message.subject, message.text);
    let body = json!({
        "text": text,
        "subject": message.subject,
        "sent_at": sent_at,
        "notifications": notices,
    });
    OutboundRequest::post(url.to_owned(), vec![("Content-Type", "application/json".to_owned())], body.to_string())
}

/// SendGrid wants `{email, name}` rather than `Name <address>`.
fn sendgrid_mailbox(mailbox: &str) -> serde_json::Value {
    let email = bare_address(mailbox);
    let name = mailbox.split('<').next().map(|n| n.trim().trim_matches('"')).unwrap_or_default();
    if name.is_empty() || name == email {
        json!({ "email": email })
    } else {
        json!({ "email": email, "name": name })
    }
}

/// `application/x-www-form-urlencoded` as the WHATWG URL standard serializes it.
fn form_encode(fields: &[(&str, &str)]) -> String {
    let encode = |value: &str| {
        let mut out = String::with_capacity(value.len());
        for byte in value.bytes() {
            match byte {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' => out.push(char::from(byte)),
                b' ' => out.push('+'),
                _ => out.push_str(&format!("%{byte:02X}")),
            }
        }
        out
    };
    fields.iter().map(|(name, value)| format!("{}={}", encode(name), encode(value))).collect::<Vec<_>>().join("&")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message() -> Message {
        Message {
            subject: "[bouncewatch] gmail.com — local policy".into(),
            text: "body".into(),
            html: "<p>body</p>".into(),
        }
    }

    fn request(provider: Provider) -> OutboundRequest {
        let api = ApiSettings { provider, api_key: "KEY".into(), base_url: "http://127.0.0.1:9999/".into() };
        let to = ["ops@example.com".to_owned(), "oncall@example.com".to_owned()];
        email_request(&api, "Bouncewatch <alerts@bw.example>", &to, &message(), "bouncewatch/1-email")
    }

    fn json_body(request: &OutboundRequest) -> serde_json::Value {
        serde_json::from_str(&request.body).expect("a JSON body")
    }

    #[test]
    fn resend_posts_json_to_emails_with_bearer_and_idempotency_key() {
        let r = request(Provider::Resend);
        assert_eq!((r.method, r.url.as_str()), ("POST", "http://127.0.0.1:9999/emails"));
        assert_eq!(r.header("authorization"), Some("Bearer KEY"));
        assert_eq!(r.header("idempotency-key"), Some("bouncewatch/1-email"));
        assert_eq!(
            json_body(&r),
            json!({"from": "Bouncewatch <alerts@bw.example>", "to": ["ops@example.com", "oncall@example.com"],
                   "subject": "[bouncewatch] gmail.com — local policy", "html": "<p>body</p>", "text": "body"})
        );
    }

    #[test]
    fn postmark_posts_pascal_case_json_with_server_token() {
        let r = request(Provider::Postmark);
        assert_eq!(r.url, "http://127.0.0.1:9999/email");
        assert_eq!(r.header("x-postmark-server-token"), Some("KEY"));
        assert_eq!(r.header("accept"), Some("application/json"));
        assert_eq!(
            json_body(&r),
            json!({"From": "Bouncewatch <alerts@bw.example>", "To": "ops@example.com, oncall@example.com",
                   "Subject": "[bouncewatch] gmail.com — local policy", "TextBody": "body",
                   "HtmlBody": "<p>body</p>", "MessageStream": "outbound"})
        );
    }

    #[test]
    fn sendgrid_posts_personalizations_with_text_before_html() {
        let r = request(Provider::Sendgrid);
        assert_eq!(r.url, "http://127.0.0.1:9999/v3/mail/send");
        assert_eq!(r.header("authorization"), Some("Bearer KEY"));
        assert_eq!(
            json_body(&r),
            json!({"personalizations": [{"to": [{"email": "ops@example.com"}, {"email": "oncall@example.com"}]}],
                   "from": {"email": "alerts@bw.example", "name": "Bouncewatch"},
                   "subject": "[bouncewatch] gmail.com — local policy",
                   "content": [{"type": "text/plain", "value": "body"}, {"type": "text/html", "value": "<p>body</p>"}]})
        );
    }

    #[test]
    fn mailgun_posts_a_form_with_basic_auth_to_the_domain() {
        let r = request(Provider::Mailgun { domain: "mg.bw.example".into() });
        assert_eq!(r.url, "http://127.0.0.1:9999/v3/mg.bw.example/messages");
        // base64("api:KEY")
        assert_eq!(r.header("authorization"), Some("Basic YXBpOktFWQ=="));
        assert_eq!(r.header("content-type"), Some("application/x-www-form-urlencoded"));
        assert_eq!(
            r.body,
            "from=Bouncewatch+%3Calerts%40bw.example%3E&to=ops%40example.com&to=oncall%40example.com\
             &subject=%5Bbouncewatch%5D+gmail.com+%E2%80%94+local+policy&text=body&html=%3Cp%3Ebody%3C%2Fp%3E"
        );
    }

    #[test]
    fn webhook_carries_a_slack_text_and_the_structured_notices() {
        let r = webhook_request("http://127.0.0.1:9/hook", &message(), &[], 42);
        assert_eq!(r.url, "http://127.0.0.1:9/hook");
        let body = json_body(&r);
        assert_eq!(body["text"], "*[bouncewatch] gmail.com — local policy*\nbody");
        assert_eq!(body["sent_at"], 42);
        assert_eq!(body["notifications"], json!([]));
    }
}
