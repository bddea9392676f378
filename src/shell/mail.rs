//! The `send_email` binding and `fetch` behind the core's [`Notifier`]. What to send, to whom, and what
//! counts as a failure are decided in `notify`; this only performs it.

use worker::wasm_bindgen::JsValue;
use worker::{EmailMessage, Env, Headers, Method, Request, RequestInit, SendEmail};

use super::fetch::send_with_timeout;

use crate::notify::{Fetched, Notifier, SendError};
use crate::outbound::OutboundRequest;

/// The `[[send_email]]` binding named in `wrangler.counting.toml`.
pub const EMAIL_BINDING: &str = "EMAIL";

pub struct WorkerNotifier {
    email: Option<SendEmail>,
}

impl WorkerNotifier {
    pub fn bind(env: &Env) -> WorkerNotifier {
        WorkerNotifier { email: env.send_email(EMAIL_BINDING).ok() }
    }

    /// Whether the `send_email` binding exists, for [`crate::notify::AlertSettings::from_config`].
    pub fn has_email_binding(&self) -> bool {
        self.email.is_some()
    }
}

fn failure(what: &str, err: impl Into<worker::Error>) -> SendError {
    SendError(format!("{what}: {}", err.into()))
}

impl Notifier for WorkerNotifier {
    async fn send_email(&self, envelope_from: &str, to: &str, raw_mime: &str) -> Result<(), SendError> {
        let binding =
            self.email.as_ref().ok_or_else(|| SendError(format!("no [[send_email]] binding {EMAIL_BINDING}")))?;
        let message = EmailMessage::new(envelope_from, to, raw_mime).map_err(|e| failure("invalid message", e))?;
        // The binding's errors carry codes (E_RECIPIENT_SUPPRESSED, RCPT_NOT_ALLOWED, …) that
        // `worker::Error` names; all of them are retried, as a misconfiguration fixed later should deliver.
        binding.send(&message).await.map(|_| ()).map_err(|e| failure("send_email", e))
    }

    async fn fetch(&self, request: &OutboundRequest) -> Result<Fetched, SendError> {
        let headers = Headers::new();
        for (name, value) in &request.headers {
            headers.set(name, value).map_err(|e| failure("invalid header", e))?;
        }
        let mut init = RequestInit::new();
        init.with_method(Method::from(request.method.to_owned()))
            .with_headers(headers)
            .with_body(Some(JsValue::from_str(&request.body)));
        let outbound = Request::new_with_init(&request.url, &init).map_err(|e| failure("invalid request", e))?;
        // A failed or timed-out call is retried on a later run.
        let mut response = send_with_timeout(outbound).await.map_err(SendError)?;
        // Only KumoMTA's suspension id is read from a body; one that cannot be read is an empty one.
        let body = response.text().await.unwrap_or_default();
        Ok(Fetched { status: response.status_code(), body })
    }
}
