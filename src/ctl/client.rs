//! `tessera ctl`'s HTTP client: one request to the control API, its JSON answer, and errors
//! an operator can act on (server not running, token refused, the API's own message).

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::time::Duration;
use thiserror::Error;

/// Why a command failed.
#[derive(Debug, Error)]
pub enum CtlError {
    #[error("cannot reach the Tessera API at {url}: {reason} (is `tessera serve` running? --api sets the address)")]
    Unreachable { url: String, reason: String },
    #[error("the API refused the request (401): give the server's token with --token or TESSERA_API_TOKEN")]
    Unauthorized,
    #[error("{message} (HTTP {status} {code})")]
    Api {
        status: u16,
        code: String,
        message: String,
    },
    #[error("the API answered something that is not JSON: {0}")]
    NotJson(String),
    #[error("{0}")]
    Usage(String),
}

/// The API of one server.
pub struct Client {
    base: String,
    token: Option<String>,
    agent: ureq::Agent,
}

impl Client {
    pub fn new(base: &str, token: Option<String>) -> Self {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(5)))
            .build()
            .into();
        Self {
            base: base.trim_end_matches('/').to_string(),
            token: token.filter(|t| !t.is_empty()),
            agent,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn unreachable(&self, e: ureq::Error) -> CtlError {
        CtlError::Unreachable {
            url: self.base.clone(),
            reason: e.to_string(),
        }
    }

    /// `method path` with an optional JSON body; the answer's JSON (`null` for 204).
    pub fn call(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, CtlError> {
        let url = self.url(path);
        let auth = self.token.as_ref().map(|t| format!("Bearer {t}"));
        let response = match method {
            "GET" => with_auth(self.agent.get(&url), &auth).call(),
            "DELETE" => with_auth(self.agent.delete(&url), &auth).call(),
            _ => {
                let builder = match method {
                    "POST" => self.agent.post(&url),
                    "PUT" => self.agent.put(&url),
                    _ => self.agent.patch(&url),
                };
                with_auth(builder, &auth)
                    .header("Content-Type", "application/json")
                    .send(
                        body.unwrap_or(Value::Object(Default::default()))
                            .to_string(),
                    )
            }
        };
        let mut response = response.map_err(|e| self.unreachable(e))?;
        let status = response.status().as_u16();
        let text = response
            .body_mut()
            .read_to_string()
            .map_err(|e| self.unreachable(e))?;
        if status == 401 {
            return Err(CtlError::Unauthorized);
        }
        let json: Value = if text.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).map_err(|_| CtlError::NotJson(text.clone()))?
        };
        if status >= 400 {
            return Err(api_error(status, &json));
        }
        Ok(json)
    }

    /// `GET path` answered with a binary body (a PNG).
    pub fn bytes(&self, path: &str) -> Result<Vec<u8>, CtlError> {
        let auth = self.token.as_ref().map(|t| format!("Bearer {t}"));
        let mut response = with_auth(self.agent.get(&self.url(path)), &auth)
            .call()
            .map_err(|e| self.unreachable(e))?;
        let status = response.status().as_u16();
        let body = response
            .body_mut()
            .with_config()
            .limit(64 * 1024 * 1024)
            .read_to_vec()
            .map_err(|e| self.unreachable(e))?;
        if status == 401 {
            return Err(CtlError::Unauthorized);
        }
        if status >= 400 {
            let json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            return Err(api_error(status, &json));
        }
        Ok(body)
    }

    /// Follows `/v1/events` (optionally one room's), calling `each` per event until the
    /// server ends the stream or the connection drops.
    pub fn follow(&self, room: Option<&str>, mut each: impl FnMut(&Value)) -> Result<(), CtlError> {
        let query = room.map(|r| format!("?room={r}")).unwrap_or_default();
        let url = self.url(&format!("/v1/events{query}"));
        let auth = self.token.as_ref().map(|t| format!("Bearer {t}"));
        let request = self.agent.get(&url).config().timeout_global(None).build();
        let response = with_auth(request, &auth)
            .call()
            .map_err(|e| self.unreachable(e))?;
        match response.status().as_u16() {
            401 => return Err(CtlError::Unauthorized),
            s if s >= 400 => {
                return Err(CtlError::Api {
                    status: s,
                    code: String::new(),
                    message: "cannot follow events".to_string(),
                })
            }
            _ => {}
        }
        let reader = BufReader::new(response.into_body().into_reader());
        for line in reader.lines() {
            // The server going away ends the stream like the server stopping does.
            let Ok(line) = line else { break };
            if let Some(data) = line.strip_prefix("data:") {
                if let Ok(event) = serde_json::from_str::<Value>(data.trim()) {
                    each(&event);
                }
            }
        }
        Ok(())
    }
}

/// The API's `{"error": {...}}` answer as an error.
fn api_error(status: u16, json: &Value) -> CtlError {
    CtlError::Api {
        status,
        code: json["error"]["code"].as_str().unwrap_or("").to_string(),
        message: json["error"]["message"]
            .as_str()
            .unwrap_or("request failed")
            .to_string(),
    }
}

fn with_auth<B>(
    builder: ureq::RequestBuilder<B>,
    auth: &Option<String>,
) -> ureq::RequestBuilder<B> {
    match auth {
        Some(value) => builder.header("Authorization", value),
        None => builder,
    }
}
