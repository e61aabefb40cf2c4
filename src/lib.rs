//! The dashboard: a Leptos single-page app that speaks MQTT over WebSocket.
//!
//! Data flows one way: WebSocket frames -> [`mqtt`] (the sans-IO session from
//! `mqtt-proto` plus reconnection) -> [`state`] (bounded stores in signals) ->
//! [`components`] (one file per panel). Components never parse bytes and the
//! transport never touches the DOM.
//!
//! - [`app`]: page layout; wires the broker link to the stores, storing arriving
//!   messages once per animation frame.
//! - [`broker`]: the handle panels use to subscribe and publish.
//! - [`mqtt`]: broker URL resolution and the WebSocket link.
//! - [`state`]: sensor readings, topic tree, message log, subscriptions, sent
//!   messages: bounded, plain Rust, tested natively.
//! - [`components`]: connection indicator, device cards, charts, subscriptions,
//!   topic tree, message log, publish.
//! - [`notifications`]: browser notifications for rules, when allowed.
//! - [`storage`]: connection profiles in localStorage.
//! - [`theme`]: series colours shared by cards and charts.

pub mod app;
pub mod broker;
pub mod components;
pub mod mqtt;
pub mod notifications;
pub mod state;
pub mod storage;
pub mod theme;

pub use app::App;
