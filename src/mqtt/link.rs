//! Keeps one MQTT session alive over browser WebSockets.
//!
//! Callbacks from the WebSocket and from timers feed the sans-IO session and
//! then run one `drive` step: send what it wants sent, hand out its events,
//! arm the timer for its next deadline. When the socket closes, a new one is
//! opened after an exponential backoff; the session makes the subscriptions
//! again if the broker kept no session.

use super::worker_timer::WorkerTimer;
use crate::state::ConnectionSettings;
use bytes::Bytes;
use gloo_timers::callback::Timeout;
use leptos::prelude::{RwSignal, Set};
use mqtt_proto::{
    ByteStr, ClientConfig, ClientSession, DisconnectReason, Event, Instant, LastWill, Properties,
    ProtocolVersion, Publish, QoS, ReasonCode, SessionState, Subscription,
};
use std::cell::RefCell;
use std::rc::{Rc, Weak};
use wasm_bindgen::{closure::Closure, JsCast};
use web_sys::{BinaryType, CloseEvent, MessageEvent, WebSocket};

const FIRST_BACKOFF_MS: f64 = 500.0;
const MAX_BACKOFF_MS: f64 = 10_000.0;

/// What the connection indicator shows.
#[derive(Debug, Clone, PartialEq)]
pub enum LinkState {
    /// The person disconnected.
    Disconnected,
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
            LinkState::Disconnected => "disconnected",
            LinkState::Connecting => "connecting",
            LinkState::Connected => "connected",
            LinkState::Reconnecting { .. } => "reconnecting",
        }
    }
}

/// What the link tells the page, in arrival order.
#[derive(Debug, Clone, PartialEq)]
pub enum LinkEvent {
    /// A (re)connection; without a session present, the subscriptions were
    /// made again and their SUBACKs follow.
    Connected {
        session_present: bool,
    },
    Message(Publish),
    /// The broker's answer for `filters`, one code each.
    SubAck {
        filters: Vec<String>,
        codes: Vec<ReasonCode>,
    },
    /// A QoS 1/2 publish with this packet id completed its flow.
    Published {
        packet_id: u16,
    },
}

/// A subscribe or unsubscribe asked for while disconnected, made on connect.
enum Queued {
    Subscribe(Subscription),
    Unsubscribe(ByteStr),
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
    /// Why the session last ended, shown while waiting to reconnect.
    last_error: Option<String>,
    /// The wait before the next connection attempt.
    retry_timer: Option<Timeout>,
    /// The session's next deadline (keepalive, CONNACK wait), kept in a
    /// worker so a hidden tab still pings on time.
    deadline: Option<WorkerTimer>,
    /// Made on the next connection. Once made, the session keeps them and
    /// makes them again whenever a reconnect finds no session on the broker.
    queued: Vec<Queued>,
    state: RwSignal<LinkState>,
    on_event: Rc<dyn Fn(LinkEvent)>,
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

/// The session's configuration from the connection form.
pub fn client_config(settings: &ConnectionSettings) -> ClientConfig {
    let id = settings.client_id.trim();
    let id = if id.is_empty() {
        format!("dashboard-{}", random_suffix())
    } else {
        id.to_owned()
    };
    let mut config = ClientConfig::new(id);
    config.protocol = if settings.is_v5() {
        ProtocolVersion::V5
    } else {
        ProtocolVersion::V311
    };
    config.keep_alive_secs = settings.keep_alive_secs;
    config.clean_session = settings.clean_start;
    config.session_expiry_secs = settings.session_expiry_secs;
    config.username = (!settings.username.is_empty()).then(|| settings.username.clone());
    config.password = (!settings.password.is_empty())
        .then(|| Bytes::from(settings.password.clone().into_bytes()));
    let will = settings.will.topic.trim();
    if !will.is_empty() {
        config.will = Some(LastWill {
            topic: ByteStr::from(will),
            payload: Bytes::from(settings.will.payload.clone().into_bytes()),
            qos: QoS::from_u8(settings.will.qos).unwrap_or_default(),
            retain: settings.will.retain,
            properties: Properties::new(),
        });
    }
    config
}

impl BrokerLink {
    /// Connects to `url` and keeps `subscriptions` in place across reconnects.
    pub fn start(
        url: String,
        config: ClientConfig,
        subscriptions: Vec<Subscription>,
        state: RwSignal<LinkState>,
        on_event: impl Fn(LinkEvent) + 'static,
    ) -> BrokerLink {
        let inner = Rc::new(RefCell::new(Inner {
            url,
            session: ClientSession::new(config),
            socket: None,
            handlers: None,
            offer_subprotocol: true,
            opened: false,
            failures: 0,
            last_error: None,
            retry_timer: None,
            deadline: None,
            queued: subscriptions.into_iter().map(Queued::Subscribe).collect(),
            state,
            on_event: Rc::new(on_event),
        }));
        let weak = Rc::downgrade(&inner);
        inner.borrow_mut().deadline = Some(WorkerTimer::new(move || {
            with_link(&weak, |rc| rc.borrow_mut().session.handle_timeout(now()));
            drive(&weak);
        }));
        open_socket(&inner);
        BrokerLink { inner }
    }

    /// Subscribes now, or on the next connection. The answer arrives as
    /// [`LinkEvent::SubAck`].
    pub fn subscribe(&self, subscription: Subscription) -> Result<(), String> {
        mqtt_proto::topic::validate_topic_filter(&subscription.filter)
            .map_err(|e| e.to_string())?;
        self.command(Queued::Subscribe(subscription));
        Ok(())
    }

    /// Unsubscribes now, or on the next connection.
    pub fn unsubscribe(&self, filter: &str) {
        self.command(Queued::Unsubscribe(ByteStr::from(filter)));
    }

    /// Publishes a message. QoS 0 needs a connection; QoS 1 and 2 are kept
    /// until acknowledged and sent when connected, the packet id returned.
    pub fn publish(&self, publish: Publish) -> Result<Option<u16>, String> {
        let result = self
            .inner
            .borrow_mut()
            .session
            .publish(publish, now())
            .map_err(|e| match e {
                mqtt_proto::Error::NotConnected => {
                    "not connected: QoS 0 messages are only sent while connected".to_owned()
                }
                other => other.to_string(),
            });
        drive(&Rc::downgrade(&self.inner));
        result
    }

    pub fn is_connected(&self) -> bool {
        self.inner.borrow().session.state() == SessionState::Connected
    }

    fn command(&self, command: Queued) {
        self.inner.borrow_mut().queued.push(command);
        drive(&Rc::downgrade(&self.inner));
    }
}

impl Drop for BrokerLink {
    fn drop(&mut self) {
        let mut inner = self.inner.borrow_mut();
        inner.retry_timer = None;
        inner.deadline = None;
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
    let reason = inner
        .last_error
        .take()
        .unwrap_or_else(|| match event.code() {
            1000 | 1005 => "connection closed".to_owned(),
            1006 => "broker unreachable".to_owned(),
            code => format!("closed with code {code} {}", event.reason()),
        });
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
    inner.retry_timer = Some(Timeout::new(delay as u32, move || {
        with_link(&weak, open_socket)
    }));
}

/// One step after any input: dispatch events, flush bytes, re-arm the timer,
/// then hand received messages to the page (with no borrow held).
fn drive(weak: &Weak<RefCell<Inner>>) {
    let Some(rc) = weak.upgrade() else { return };
    let mut out = Vec::new();
    {
        let mut inner = rc.borrow_mut();
        loop {
            if inner.session.state() == SessionState::Connected && !inner.queued.is_empty() {
                make_queued(&mut inner);
            }
            let Some(event) = inner.session.poll_event() else {
                break;
            };
            match event {
                Event::Connected { session_present } => {
                    inner.failures = 0;
                    inner.state.set(LinkState::Connected);
                    out.push(LinkEvent::Connected { session_present });
                }
                Event::Message(publish) => out.push(LinkEvent::Message(publish)),
                Event::SubAck { ack, filters } => out.push(LinkEvent::SubAck {
                    filters: filters.iter().map(|f| f.to_string()).collect(),
                    codes: ack.reason_codes,
                }),
                Event::Published { packet_id } => out.push(LinkEvent::Published { packet_id }),
                Event::UnsubAck(_) => {}
                Event::Disconnected(reason) => {
                    // Closing the socket leads to onclose, which schedules the retry.
                    let why = describe(&reason);
                    web_sys::console::warn_1(&format!("MQTT session ended: {why}").into());
                    inner.last_error = Some(why);
                    if let Some(socket) = &inner.socket {
                        let _ = socket.close_with_code_and_reason(1000, "session ended");
                    }
                }
            }
        }
        while let Some(bytes) = inner.session.poll_transmit() {
            send(&inner.socket, &bytes);
        }
        let next = inner.session.poll_timeout();
        if let Some(deadline) = inner.deadline.as_mut() {
            match next {
                Some(at) => {
                    let wait = at.as_millis().saturating_sub(now().as_millis());
                    deadline.arm(wait.min(u64::from(u32::MAX)) as u32);
                }
                None => deadline.disarm(),
            }
        }
    }
    let on_event = rc.borrow().on_event.clone();
    for event in out {
        on_event(event);
    }
}

/// Makes the queued subscribes and unsubscribes: consecutive subscribes in
/// one SUBSCRIBE packet.
fn make_queued(inner: &mut Inner) {
    let mut batch = Vec::new();
    for command in std::mem::take(&mut inner.queued) {
        match command {
            Queued::Subscribe(s) => batch.push(s),
            Queued::Unsubscribe(filter) => {
                flush_subscribes(inner, &mut batch);
                if let Err(e) = inner.session.unsubscribe(vec![filter], now()) {
                    web_sys::console::error_1(&format!("unsubscribe failed: {e}").into());
                }
            }
        }
    }
    flush_subscribes(inner, &mut batch);
}

fn flush_subscribes(inner: &mut Inner, batch: &mut Vec<Subscription>) {
    if batch.is_empty() {
        return;
    }
    if let Err(e) = inner.session.subscribe(std::mem::take(batch), now()) {
        web_sys::console::error_1(&format!("subscribe failed: {e}").into());
    }
}

fn send(socket: &Option<WebSocket>, bytes: &Bytes) {
    if let Some(socket) = socket {
        if let Err(e) = socket.send_with_u8_array(bytes) {
            web_sys::console::warn_1(&e);
        }
    }
}

/// A reason code in words with its number: "bad user name or password (0x86)".
pub fn reason_words(code: ReasonCode) -> String {
    let name = format!("{code:?}");
    let mut words = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            words.push(' ');
        }
        words.push(c.to_ascii_lowercase());
    }
    format!("{} (0x{:02X})", words.replace("qo s", "QoS"), code as u8)
}

fn describe(reason: &DisconnectReason) -> String {
    match reason {
        DisconnectReason::Refused(code) => format!("refused: {}", reason_words(*code)),
        DisconnectReason::ServerDisconnected(code) => {
            format!("broker disconnected: {}", reason_words(*code))
        }
        DisconnectReason::ConnectTimeout => "no answer to CONNECT".to_owned(),
        DisconnectReason::KeepAliveTimeout => "broker stopped answering pings".to_owned(),
        DisconnectReason::ProtocolError(e) => format!("protocol error: {e}"),
        DisconnectReason::TransportClosed => "connection closed".to_owned(),
    }
}
