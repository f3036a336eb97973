//! The call engine's driver: the one place of the server's signalling that reads the clock,
//! awaits channels and sockets. One tokio task runs it; it feeds the [`CallEngine`] what
//! arrives (SIP messages, room events, control requests, the shutdown signal, timer expiry)
//! with the time it arrived, and sends what the engine produced without ever waiting on a
//! peer ([`Transport::try_send`]): a TCP peer that stops reading loses its connection and
//! cannot stall everyone else's signalling. It stamps the engine's events with the wall
//! clock and publishes them on the [`EventBus`].

use super::control::ControlRequest;
use super::engine::CallEngine;
use super::event_bus::EventBus;
use crate::conference::events::RoomEvent;
use crate::sip::transport::{Transport, TransportEvent};
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, info_span, warn, Instrument};

/// How long the driver sleeps when the engine has no timer (it wakes on any input anyway).
const IDLE_WAKE: Duration = Duration::from_secs(3600);
/// How often the transport learns which TCP connections calls use, besides whenever the
/// number of calls changes (calls change only on input, so this is checked after input).
const IN_USE_REFRESH: Duration = Duration::from_secs(1);

/// The channels the driver listens on.
pub struct DriverInputs {
    pub transport: mpsc::Receiver<TransportEvent>,
    pub room_events: mpsc::UnboundedReceiver<RoomEvent>,
    pub control: mpsc::Receiver<ControlRequest>,
    pub shutdown: oneshot::Receiver<()>,
}

/// Runs `engine` until its shutdown completes (every call ended with BYE, or the grace time
/// passed), then drops what calls remain.
pub async fn run(
    mut engine: CallEngine,
    transport: Transport,
    mut inputs: DriverInputs,
    events: EventBus,
) {
    let mut shutdown_requested = false;
    let mut in_use_told: Option<(Instant, usize)> = None;
    loop {
        let deadline = engine
            .poll_timeout()
            .unwrap_or_else(|| Instant::now() + IDLE_WAKE);
        tokio::select! {
            event = inputs.transport.recv() => match event {
                Some(TransportEvent::Message { message, peer, local }) => {
                    engine.handle_message(Instant::now(), *message, peer, local);
                }
                Some(TransportEvent::Closed(id)) => debug!(connection = id, "sip connection closed"),
                None => break,
            },
            Some(event) = inputs.room_events.recv() => engine.handle_room_event(Instant::now(), event),
            Some(request) = inputs.control.recv() => engine.handle_control(Instant::now(), request),
            _ = tokio::time::sleep_until(deadline.into()) => engine.handle_timeout(Instant::now()),
            _ = &mut inputs.shutdown, if !shutdown_requested => {
                shutdown_requested = true;
                engine.begin_shutdown(Instant::now());
            }
        }
        while let Some((peer, data)) = engine.poll_transmit() {
            if let Err(e) = transport.try_send(peer, data) {
                warn!(error = %e, "sip send failed");
            }
        }
        while let Some(event) = engine.poll_event() {
            events.publish(event, SystemTime::now());
        }
        let calls = engine.call_count();
        if in_use_told.is_none_or(|(at, told)| told != calls || at.elapsed() >= IN_USE_REFRESH) {
            in_use_told = Some((Instant::now(), calls));
            transport.set_in_use(engine.tcp_connections_in_use());
        }
        if engine.is_stopped(Instant::now()) {
            break;
        }
    }
    engine.drop_calls();
    while let Some(event) = engine.poll_event() {
        events.publish(event, SystemTime::now());
    }
}

/// Spawns [`run`] on its own task, inside a `sip` span.
pub fn spawn(
    engine: CallEngine,
    transport: Transport,
    inputs: DriverInputs,
    events: EventBus,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(run(engine, transport, inputs, events).instrument(info_span!("sip_core")))
}
