//! Keeps one MQTT session alive over browser WebSockets.
//!
//! Callbacks from the WebSocket and from timers feed the sans-IO session and
//! then run one `drive` step: send what it wants sent, hand out its events,
//! arm the timer for its next deadline. When the socket closes, a new one is
//! opened after an exponential backoff; the session makes the subscriptions
//! again if the broker kept no session.

use bytes::Bytes;
use gloo_timers::callback::Timeout;
use leptos::prelude::{RwSignal, Set};
use mqtt_proto::{
    ClientConfig, ClientSession, DisconnectReason, Event, Instant, Publish, Subscription,
};
use std::cell::RefCell;
use std::rc::{Rc, Weak};
use wasm_bindgen::{closure::Closure, JsCast};
use web_sys::{BinaryType, CloseEvent, MessageEvent, WebSocket};

const FIRST_BACKOFF_MS: f64 = 500.0;
const MAX_BACKOFF_MS: f64 = 10_000.0;
const KEEP_ALIVE_SECS: u16 = 30;

/// What the connection indicator shows.
#[derive(Debug, Clone, PartialEq)]
pub enum LinkState {
    Connecting,
    Connected,
    /// Waiting to retry; `retry_at_ms` is wall-clock (`Date.now()`) time.
    Reconnecting {
        retry_at_ms: f64,
        reason: String,
    },
}

impl LinkState {
    /// A stable lowercase name, for CSS and tests.
    pub fn name(&self) -> &'static str {
        match self {
            LinkState::Connecting => "connecting",
            LinkState::Connected => "connected",
            LinkState::Reconnecting { .. } => "reconnecting",
        }
    }
}

/// A live link to a broker; dropping it closes the socket and stops retrying.
pub struct BrokerLink {
    inner: Rc<RefCell<Inner>>,
}

struct Handlers {
    _open: Closure<dyn FnMut()>,
    _message: Closure<dyn FnMut(MessageEvent)>,
    _close: Closure<dyn FnMut(CloseEvent)>,
}

struct Inner {
    url: String,
    session: ClientSession,
    socket: Option<WebSocket>,
    handlers: Option<Handlers>,
    /// Whether to ask for the `mqtt` subprotocol. Cleared when a handshake
    /// fails before opening and a plain one then works: some proxies (trunk's
    /// among them) answer without echoing the subprotocol, which browsers
    /// treat as a failed handshake.
    offer_subprotocol: bool,
    opened: bool,
    failures: u32,
    timer: Option<Timeout>,
    /// Made once, on the first connection; after that the session keeps them
    /// and makes them again whenever a reconnect finds no session on the broker.
    initial_subscriptions: Option<Vec<Subscription>>,
    state: RwSignal<LinkState>,
    on_message: Rc<dyn Fn(Publish)>,
}

fn now() -> Instant {
    let ms = web_sys::window()
        .and_then(|w| w.performance())
        .map(|p| p.now())
        .unwrap_or_else(js_sys::Date::now);
    Instant::from_millis(ms as u64)
}

fn random_suffix() -> String {
    format!(
        "{:08x}",
        (js_sys::Math::random() * f64::from(u32::MAX)) as u32
    )
}

impl BrokerLink {
    /// Connects to `url` and keeps `subscriptions` in place across reconnects.
    pub fn start(
        url: String,
        subscriptions: Vec<Subscription>,
        state: RwSignal<LinkState>,
        on_message: impl Fn(Publish) + 'static,
    ) -> BrokerLink {
        let mut config = ClientConfig::new(format!("dashboard-{}", random_suffix()));
        config.keep_alive_secs = KEEP_ALIVE_SECS;
        let inner = Rc::new(RefCell::new(Inner {
            url,
            session: ClientSession::new(config),
            socket: None,
            handlers: None,
            offer_subprotocol: true,
            opened: false,
            failures: 0,
            timer: None,
            initial_subscriptions: Some(subscriptions),
            state,
            on_message: Rc::new(on_message),
        }));
        open_socket(&inner);
        BrokerLink { inner }
    }
}

impl Drop for BrokerLink {
    fn drop(&mut self) {
        let mut inner = self.inner.borrow_mut();
        inner.timer = None;
        inner.session.disconnect(now());
        if let Some(bytes) = inner.session.poll_transmit() {
            send(&inner.socket, &bytes);
        }
        if let Some(socket) = inner.socket.take() {
            detach(&socket);
            let _ = socket.close();
        }
    }
}

fn detach(socket: &WebSocket) {
    socket.set_onopen(None);
    socket.set_onmessage(None);
    socket.set_onclose(None);
}

fn with_link(weak: &Weak<RefCell<Inner>>, f: impl FnOnce(&Rc<RefCell<Inner>>)) {
    if let Some(rc) = weak.upgrade() {
        f(&rc);
    }
}

fn open_socket(rc: &Rc<RefCell<Inner>>) {
    let mut inner = rc.borrow_mut();
    if let Some(old) = inner.socket.take() {
        detach(&old);
        let _ = old.close();
    }
    inner.state.set(LinkState::Connecting);
    inner.opened = false;
    let socket = if inner.offer_subprotocol {
        WebSocket::new_with_str(&inner.url, "mqtt")
    } else {
        WebSocket::new(&inner.url)
    };
    let socket = match socket {
        Ok(s) => s,
        Err(e) => {
            let reason = format!("cannot open {}: {:?}", inner.url, e);
            drop(inner);
            schedule_reconnect(rc, reason);
            return;
        }
    };
    socket.set_binary_type(BinaryType::Arraybuffer);
    let weak = Rc::downgrade(rc);

    let w = weak.clone();
    let open = Closure::<dyn FnMut()>::new(move || {
        with_link(&w, |rc| {
            let mut inner = rc.borrow_mut();
            inner.opened = true;
            if let Err(e) = inner.session.connect(now()) {
                web_sys::console::error_1(&format!("CONNECT does not encode: {e}").into());
            }
        });
        drive(&w);
    });
    let w = weak.clone();
    let message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
        let Ok(buffer) = event.data().dyn_into::<js_sys::ArrayBuffer>() else {
            return;
        };
        let bytes = js_sys::Uint8Array::new(&buffer).to_vec();
        with_link(&w, |rc| rc.borrow_mut().session.handle_bytes(&bytes, now()));
        drive(&w);
    });
    let w = weak;
    let close = Closure::<dyn FnMut(CloseEvent)>::new(move |event: CloseEvent| {
        with_link(&w, |rc| handle_close(rc, &event));
    });
    socket.set_onopen(Some(open.as_ref().unchecked_ref()));
    socket.set_onmessage(Some(message.as_ref().unchecked_ref()));
    socket.set_onclose(Some(close.as_ref().unchecked_ref()));
    inner.socket = Some(socket);
    inner.handlers = Some(Handlers {
        _open: open,
        _message: message,
        _close: close,
    });
}

fn handle_close(rc: &Rc<RefCell<Inner>>, event: &CloseEvent) {
    let mut inner = rc.borrow_mut();
    inner.session.handle_transport_closed();
    while inner.session.poll_event().is_some() {}
    inner.socket = None;
    if !inner.opened && inner.offer_subprotocol {
        // Perhaps a proxy that drops the subprotocol: try once without it, now.
        inner.offer_subprotocol = false;
        drop(inner);
        open_socket(rc);
        return;
    }
    if !inner.opened {
        // It failed both ways, so the broker is down rather than picky.
        inner.offer_subprotocol = true;
    }
    let reason = match event.code() {
        1000 | 1005 => "connection closed".to_owned(),
        1006 => "broker unreachable".to_owned(),
        code => format!("closed with code {code} {}", event.reason()),
    };
    drop(inner);
    schedule_reconnect(rc, reason);
}

fn schedule_reconnect(rc: &Rc<RefCell<Inner>>, reason: String) {
    let mut inner = rc.borrow_mut();
    let exp = FIRST_BACKOFF_MS * 2f64.powi(inner.failures.min(16) as i32);
    // Jitter spreads a room full of dashboards after a broker restart.
    let delay = exp.min(MAX_BACKOFF_MS) * (0.8 + 0.4 * js_sys::Math::random());
    inner.failures += 1;
    inner.state.set(LinkState::Reconnecting {
        retry_at_ms: js_sys::Date::now() + delay,
        reason,
    });
    let weak = Rc::downgrade(rc);
    inner.timer = Some(Timeout::new(delay as u32, move || {
        with_link(&weak, open_socket)
    }));
}

/// One step after any input: dispatch events, flush bytes, re-arm the timer,
/// then hand received messages to the page (with no borrow held).
fn drive(weak: &Weak<RefCell<Inner>>) {
    let Some(rc) = weak.upgrade() else { return };
    let mut messages = Vec::new();
    {
        let mut inner = rc.borrow_mut();
        while let Some(event) = inner.session.poll_event() {
            match event {
                Event::Connected { .. } => {
                    inner.failures = 0;
                    inner.state.set(LinkState::Connected);
                    if let Some(subscriptions) = inner.initial_subscriptions.take() {
                        if let Err(e) = inner.session.subscribe(subscriptions, now()) {
                            web_sys::console::error_1(&format!("subscribe failed: {e}").into());
                        }
                    }
                }
                Event::Message(publish) => messages.push(publish),
                Event::SubAck(ack) => {
                    if ack.reason_codes.iter().any(|c| c.is_error()) {
                        web_sys::console::warn_1(&"the broker refused a subscription".into());
                    }
                }
                Event::UnsubAck(_) | Event::Published { .. } => {}
                Event::Disconnected(reason) => {
                    // Closing the socket leads to onclose, which schedules the retry.
                    let why = describe(&reason);
                    web_sys::console::warn_1(&format!("MQTT session ended: {why}").into());
                    if let Some(socket) = &inner.socket {
                        let _ = socket.close_with_code_and_reason(1000, "session ended");
                    }
                }
            }
        }
        while let Some(bytes) = inner.session.poll_transmit() {
            send(&inner.socket, &bytes);
        }
        inner.timer = inner.session.poll_timeout().map(|at| {
            let wait = at.as_millis().saturating_sub(now().as_millis());
            let w = weak.clone();
            Timeout::new(wait.min(u64::from(u32::MAX)) as u32, move || {
                with_link(&w, |rc| rc.borrow_mut().session.handle_timeout(now()));
                drive(&w);
            })
        });
    }
    let on_message = rc.borrow().on_message.clone();
    for publish in messages {
        on_message(publish);
    }
}

fn send(socket: &Option<WebSocket>, bytes: &Bytes) {
    if let Some(socket) = socket {
        if let Err(e) = socket.send_with_u8_array(bytes) {
            web_sys::console::warn_1(&e);
        }
    }
}

fn describe(reason: &DisconnectReason) -> String {
    match reason {
        DisconnectReason::Refused(code) => format!("broker refused the connection: {code:?}"),
        DisconnectReason::ServerDisconnected(code) => format!("broker disconnected: {code:?}"),
        DisconnectReason::ConnectTimeout => "no answer to CONNECT".to_owned(),
        DisconnectReason::KeepAliveTimeout => "broker stopped answering pings".to_owned(),
        DisconnectReason::ProtocolError(e) => format!("protocol error: {e}"),
        DisconnectReason::TransportClosed => "connection closed".to_owned(),
    }
}
