//! A client of the control API for tests: real HTTP over loopback (ureq, a third-party
//! client), run off the async runtime; and a Server-Sent Events reader on its own thread.

#![allow(dead_code)]

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::time::Duration;
use tessera::server::ServerHandle;
use tokio::sync::mpsc;

/// What an API call answered.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub body: String,
}

impl Answer {
    /// The body as JSON (panics if it is not).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("JSON body ({e}): {}", self.body))
    }

    /// The `error.code` of an error answer.
    pub fn error_code(&self) -> String {
        self.json()["error"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

/// The control API of one server.
#[derive(Clone)]
pub struct Api {
    pub base: String,
    pub token: Option<String>,
    agent: ureq::Agent,
}

impl Api {
    pub fn new(server: &ServerHandle) -> Self {
        Self::at(format!("http://{}", server.api_addr()))
    }

    pub fn at(base: String) -> Self {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .into();
        Self {
            base,
            token: None,
            agent,
        }
    }

    /// The id of the member called `name` in `room` (as `GET …/members` lists it).
    pub async fn member_id(&self, room: &str, name: &str) -> u64 {
        let members = self.get(&format!("/v1/rooms/{room}/members")).await.json();
        members
            .as_array()
            .and_then(|list| list.iter().find(|m| m["name"] == name))
            .and_then(|m| m["id"].as_u64())
            .unwrap_or_else(|| panic!("no member {name} in room {room}: {members}"))
    }

    pub fn with_token(mut self, token: &str) -> Self {
        self.token = Some(token.to_string());
        self
    }

    /// `method path` with an optional body, answered off the async runtime.
    pub async fn call(&self, method: &str, path: &str, body: Option<String>) -> Answer {
        let this = self.clone();
        let (method, path) = (method.to_string(), path.to_string());
        tokio::task::spawn_blocking(move || this.call_blocking(&method, &path, body))
            .await
            .expect("http thread")
    }

    pub fn call_blocking(&self, method: &str, path: &str, body: Option<String>) -> Answer {
        let url = format!("{}{}", self.base, path);
        let auth = self.token.as_ref().map(|t| format!("Bearer {t}"));
        let response = match (method, body) {
            ("GET", _) => self.with_auth(self.agent.get(&url), &auth).call(),
            ("DELETE", _) => self.with_auth(self.agent.delete(&url), &auth).call(),
            (m, body) => {
                let builder = match m {
                    "POST" => self.agent.post(&url),
                    "PUT" => self.agent.put(&url),
                    "PATCH" => self.agent.patch(&url),
                    other => panic!("method {other}"),
                };
                self.with_auth(builder, &auth)
                    .header("Content-Type", "application/json")
                    .send(body.unwrap_or_default())
            }
        };
        let mut response = response.unwrap_or_else(|e| panic!("{method} {url}: {e}"));
        let status = response.status().as_u16();
        let body = response
            .body_mut()
            .with_config()
            .limit(16 * 1024 * 1024)
            .read_to_string()
            .unwrap_or_default();
        Answer { status, body }
    }

    fn with_auth<B>(
        &self,
        builder: ureq::RequestBuilder<B>,
        auth: &Option<String>,
    ) -> ureq::RequestBuilder<B> {
        match auth {
            Some(value) => builder.header("Authorization", value),
            None => builder,
        }
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.call("GET", path, None).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> Answer {
        self.call("PATCH", path, Some(body.to_string())).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Answer {
        self.call("POST", path, Some(body.to_string())).await
    }

    pub async fn put(&self, path: &str, body: Value) -> Answer {
        self.call("PUT", path, Some(body.to_string())).await
    }

    pub async fn delete(&self, path: &str) -> Answer {
        self.call("DELETE", path, None).await
    }

    /// The snapshot PNG of canvas `canvas` (1-based) of `room`, decoded.
    pub async fn snapshot(&self, room: &str, canvas: usize) -> image::RgbImage {
        let path = format!(
            "{}/v1/rooms/{room}/canvases/{canvas}/snapshot.png",
            self.base
        );
        let bytes = tokio::task::spawn_blocking(move || {
            let mut response = ureq::get(&path).call().expect("snapshot");
            assert_eq!(
                response
                    .headers()
                    .get("content-type")
                    .and_then(|v| v.to_str().ok()),
                Some("image/png")
            );
            response
                .body_mut()
                .with_config()
                .limit(64 * 1024 * 1024)
                .read_to_vec()
                .expect("body")
        })
        .await
        .expect("thread");
        image::load_from_memory_with_format(&bytes, image::ImageFormat::Png)
            .expect("a PNG")
            .to_rgb8()
    }

    /// Follows `/v1/events` (with `query`, e.g. `?room=3000`), resuming after `last_id`.
    /// Returns once the server has answered the request, so the subscription exists and no
    /// event that follows is missed.
    pub fn events(&self, query: &str, last_id: Option<u64>) -> Events {
        let url = format!("{}/v1/events{query}", self.base);
        let agent = self.agent.clone();
        let auth = self.token.as_ref().map(|t| format!("Bearer {t}"));
        let (tx, rx) = mpsc::unbounded_channel();
        let (answered_tx, answered) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut request = agent.get(&url).config().timeout_global(None).build();
            if let Some(auth) = auth {
                request = request.header("Authorization", auth);
            }
            if let Some(id) = last_id {
                request = request.header("Last-Event-ID", id.to_string());
            }
            let response = request.call();
            let _ = answered_tx.send(());
            let Ok(response) = response else { return };
            let reader = BufReader::new(response.into_body().into_reader());
            let mut id = None;
            for line in reader.lines() {
                let Ok(line) = line else { return };
                if let Some(v) = line.strip_prefix("id:") {
                    id = v.trim().parse::<u64>().ok();
                } else if let Some(data) = line.strip_prefix("data:") {
                    let Ok(mut event) = serde_json::from_str::<Value>(data.trim()) else {
                        continue;
                    };
                    event["_id"] = id.map(Value::from).unwrap_or(Value::Null);
                    if tx.send(event).is_err() {
                        return;
                    }
                }
            }
        });
        let _ = answered.recv_timeout(Duration::from_secs(20));
        Events { rx }
    }
}

/// Events read from one SSE connection.
pub struct Events {
    rx: mpsc::UnboundedReceiver<Value>,
}

impl Events {
    /// The next event, if one comes within `limit`.
    pub async fn next(&mut self, limit: Duration) -> Option<Value> {
        tokio::time::timeout(limit, self.rx.recv())
            .await
            .ok()
            .flatten()
    }

    /// Events up to and including the first that `done` accepts (panics after `limit`).
    pub async fn until(&mut self, limit: Duration, done: impl Fn(&Value) -> bool) -> Vec<Value> {
        let end = tokio::time::Instant::now() + limit;
        let mut seen = Vec::new();
        loop {
            let left = end.saturating_duration_since(tokio::time::Instant::now());
            let Some(event) = self.next(left).await else {
                let types: Vec<String> =
                    seen.iter().map(|e: &Value| e["type"].to_string()).collect();
                panic!("event stream: the awaited event did not come; saw {types:?}");
            };
            let stop = done(&event);
            seen.push(event);
            if stop {
                return seen;
            }
        }
    }
}

/// An event's type.
pub fn kind(event: &Value) -> &str {
    event["type"].as_str().unwrap_or_default()
}
