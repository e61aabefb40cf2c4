//! A timer that keeps time in a Web Worker.
//!
//! Browsers throttle timers in hidden tabs (Chrome: once a minute after five
//! minutes hidden), so a keepalive driven by the page's own `setTimeout`
//! misses its PINGREQ and the broker drops the client (MQTT.js #1257,
//! #1577). A worker's timers are not throttled that way, and its message
//! still reaches the hidden page, so the session's deadlines come from here.
//! Where workers are unavailable, the page's own timer is the fallback.

use gloo_timers::callback::Timeout;
use wasm_bindgen::{closure::Closure, JsCast};

/// The worker: each message arms (or re-arms) one timeout of that many ms;
/// a negative number disarms it.
const WORKER_SOURCE: &str = "let t; onmessage = e => { clearTimeout(t); \
     if (e.data >= 0) t = setTimeout(() => postMessage(0), e.data); };";

enum Backend {
    Worker {
        worker: web_sys::Worker,
        _on_message: Closure<dyn FnMut(web_sys::MessageEvent)>,
    },
    Page {
        callback: std::rc::Rc<dyn Fn()>,
        timeout: Option<Timeout>,
    },
}

/// One re-armable deadline; `callback` runs when it passes.
pub struct WorkerTimer {
    backend: Backend,
}

impl WorkerTimer {
    pub fn new(callback: impl Fn() + 'static) -> WorkerTimer {
        let callback = std::rc::Rc::new(callback);
        match spawn_worker() {
            Some(worker) => {
                let cb = callback.clone();
                let on_message = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |_| cb());
                worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
                WorkerTimer {
                    backend: Backend::Worker {
                        worker,
                        _on_message: on_message,
                    },
                }
            }
            None => WorkerTimer {
                backend: Backend::Page {
                    callback,
                    timeout: None,
                },
            },
        }
    }

    /// Whether the deadlines come from a worker (else the page's timers).
    pub fn in_worker(&self) -> bool {
        matches!(self.backend, Backend::Worker { .. })
    }

    /// Runs the callback once after `ms`, replacing any earlier deadline.
    pub fn arm(&mut self, ms: u32) {
        match &mut self.backend {
            Backend::Worker { worker, .. } => {
                let _ = worker.post_message(&f64::from(ms).into());
            }
            Backend::Page { callback, timeout } => {
                let cb = callback.clone();
                *timeout = Some(Timeout::new(ms, move || cb()));
            }
        }
    }

    pub fn disarm(&mut self) {
        match &mut self.backend {
            Backend::Worker { worker, .. } => {
                let _ = worker.post_message(&(-1.0).into());
            }
            Backend::Page { timeout, .. } => *timeout = None,
        }
    }
}

impl Drop for WorkerTimer {
    fn drop(&mut self) {
        if let Backend::Worker { worker, .. } = &self.backend {
            worker.set_onmessage(None);
            worker.terminate();
        }
    }
}

fn spawn_worker() -> Option<web_sys::Worker> {
    let parts = js_sys::Array::of1(&WORKER_SOURCE.into());
    let options = web_sys::BlobPropertyBag::new();
    options.set_type("text/javascript");
    let blob = web_sys::Blob::new_with_str_sequence_and_options(&parts, &options).ok()?;
    let url = web_sys::Url::create_object_url_with_blob(&blob).ok()?;
    let worker = web_sys::Worker::new(&url).ok();
    let _ = web_sys::Url::revoke_object_url(&url);
    worker
}
