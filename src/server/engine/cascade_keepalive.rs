//! The engine's side of leg keepalives: an up leg between Tessera nodes probes its far node
//! with in-dialog OPTIONS ([`Keepalive`]); an answer measures the round trip, a probe left
//! unanswered ends the leg (which then redials), and so does a 481 or 408 to any request on
//! the leg (the far node forgot the dialog, or is gone).

use super::CallEngine;
use crate::cascade::keepalive::{Keepalive, KeepaliveAction};
use crate::cascade::LegState;
use crate::server::server_event::LeaveReason;
use crate::sip::message::{call_id, cseq};
use rsip::{Method, Response};
use std::time::{Duration, Instant};
use tracing::{debug, warn};

impl CallEngine {
    /// Starts the keepalive of a leg that came up (between Tessera nodes).
    pub(super) fn start_keepalive(&mut self, now: Instant, leg: &str) {
        let interval = Duration::from_secs(self.config.cascade.keepalive_secs.max(1));
        let timeout = Duration::from_secs(self.config.cascade.keepalive_timeout_secs.max(1));
        if let Some(l) = self.cascades.get_mut(leg) {
            l.keepalive = l
                .remote_node
                .is_some()
                .then(|| Keepalive::new(now, interval, timeout));
        }
    }

    /// Probes the legs whose keepalive is due; ends those whose probe went unanswered.
    pub(super) fn keepalive_timers(&mut self, now: Instant) {
        let due: Vec<(String, KeepaliveAction, String)> = self
            .cascades
            .all()
            .filter(|l| l.state == LegState::Up)
            .filter_map(|l| {
                let action = l.keepalive.as_ref()?.poll(now)?;
                Some((l.id.clone(), action, l.call_id.clone()?))
            })
            .collect();
        for (leg, action, cid) in due {
            match action {
                KeepaliveAction::Probe => {
                    let Some(call) = self.calls.get_mut(&cid) else {
                        continue;
                    };
                    let options = call.build_request(Method::Options, None);
                    let (seq, peer) = (call.local_cseq, call.peer);
                    self.layer.send_request(now, options, peer);
                    if let Some(k) = self
                        .cascades
                        .get_mut(&leg)
                        .and_then(|l| l.keepalive.as_mut())
                    {
                        k.sent(seq, now);
                    }
                }
                KeepaliveAction::Dead => {
                    warn!(%leg, call_id = %cid, "cascade leg's keepalive unanswered; ending it");
                    self.hang_up(now, &cid, LeaveReason::Timeout);
                }
            }
        }
    }

    /// When the next keepalive is due.
    pub(super) fn next_keepalive(&self) -> Option<Instant> {
        self.cascades
            .all()
            .filter(|l| l.state == LegState::Up)
            .filter_map(|l| l.keepalive.as_ref().map(Keepalive::deadline))
            .min()
    }

    /// A final response to one of our in-dialog requests on a leg (not INVITE, not BYE).
    pub(super) fn on_leg_response(&mut self, now: Instant, response: &Response) {
        let (Some(cid), Some((seq, method))) = (call_id(response), cseq(response)) else {
            return;
        };
        let Some(leg) = self.calls.get(&cid).and_then(|c| c.leg.clone()) else {
            return;
        };
        let code = response.status_code.code();
        if let Some(k) = self
            .cascades
            .get_mut(&leg)
            .and_then(|l| l.keepalive.as_mut())
        {
            if k.answered(seq, now) {
                debug!(%leg, rtt_us = k.rtt.map_or(0, |r| r.as_micros() as u64), "keepalive answered");
            }
        }
        if matches!(code, 408 | 481) {
            warn!(%leg, %method, code, "the far node lost the cascade leg's dialog; ending it");
            self.hang_up(now, &cid, LeaveReason::Timeout);
        } else if code >= 300 {
            warn!(%leg, %method, code, "cascade request refused by the far node");
        }
    }
}
