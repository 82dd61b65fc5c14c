//! The fake SMTP relay the mail tests talk to: a local server on a free loopback port that
//! speaks the real protocol (RFC 5321 greeting, EHLO, MAIL, RCPT, DATA with dot-stuffing, QUIT)
//! and, when given a TLS acceptor, STARTTLS with a real rustls handshake and `AUTH PLAIN`
//! offered only inside TLS — the way a production submission relay behaves. It records what a
//! user of the relay could observe: which verbs crossed the wire in clear, the TLS sessions,
//! the credentials and the messages.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio_rustls::TlsAcceptor;

/// What the relay saw, over all its connections.
#[derive(Default)]
pub struct Seen {
    /// Verbs received before TLS was up.
    pub plaintext: Vec<String>,
    /// Connections that completed the TLS handshake.
    pub tls_sessions: usize,
    /// Decoded `AUTH PLAIN` responses (`\0user\0pass`).
    pub auth: Vec<String>,
    /// (envelope recipient, DATA with the dot-stuffing undone and `\n` line ends).
    pub messages: Vec<(String, String)>,
}

/// How the relay treats a client that has not said STARTTLS.
#[derive(Clone)]
pub enum Security {
    /// No TLS at all: EHLO offers neither STARTTLS nor AUTH, mail is accepted in clear.
    Plain,
    /// EHLO offers STARTTLS (or, with `offer_starttls: false`, pretends not to, as a relay
    /// behind a STARTTLS-stripping man in the middle would); AUTH only inside TLS.
    StartTls {
        acceptor: TlsAcceptor,
        offer_starttls: bool,
    },
}

/// A running relay; it stops with the test's runtime.
pub struct Relay {
    pub port: u16,
    seen: Arc<Mutex<Seen>>,
}

impl Relay {
    pub async fn start(security: Security) -> Relay {
        let seen: Arc<Mutex<Seen>> = Arc::default();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let shared = seen.clone();
        tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                tokio::spawn(session(sock, security.clone(), shared.clone()));
            }
        });
        Relay { port, seen }
    }

    /// What the relay has seen so far (hold it briefly: the relay records under the same lock).
    pub fn seen(&self) -> std::sync::MutexGuard<'_, Seen> {
        self.seen.lock().unwrap()
    }

    /// Waits (up to 10 s) until the relay saw what `done` looks for: some routes send their
    /// mail in the background of the request.
    pub async fn until(&self, done: impl Fn(&Seen) -> bool) -> bool {
        for _ in 0..200 {
            if done(&self.seen()) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        false
    }

    /// The newest message to `to`.
    pub fn mail_to(&self, to: &str) -> String {
        self.seen()
            .messages
            .iter()
            .rev()
            .find(|(rcpt, _)| rcpt == to)
            .map(|(_, data)| data.clone())
            .unwrap_or_else(|| panic!("no mail to {to}"))
    }
}

/// One client connection: greeting, the dialogue in clear, and after STARTTLS the handshake
/// and the dialogue inside TLS.
async fn session(mut sock: tokio::net::TcpStream, security: Security, seen: Arc<Mutex<Seen>>) {
    if sock
        .write_all(b"220 fake.smtp.test ESMTP\r\n")
        .await
        .is_err()
    {
        return;
    }
    let (acceptor, offer_starttls) = match security {
        Security::Plain => (None, false),
        Security::StartTls {
            acceptor,
            offer_starttls,
        } => (Some(acceptor), offer_starttls),
    };
    let phase = Phase::Clear {
        offer_starttls,
        tls_required: acceptor.is_some(),
    };
    let Next::StartTls(sock) = dialogue(sock, phase, &seen).await else {
        return;
    };
    let Some(acceptor) = acceptor else { return };
    let Ok(tls) = acceptor.accept(sock).await else {
        return; // the client refused our certificate
    };
    seen.lock().unwrap().tls_sessions += 1;
    dialogue(tls, Phase::InTls, &seen).await;
}

#[derive(Clone, Copy)]
enum Phase {
    Clear {
        offer_starttls: bool,
        /// Anything but EHLO/STARTTLS/MAIL/RCPT/DATA/QUIT gets "must issue STARTTLS first".
        tls_required: bool,
    },
    InTls,
}

enum Next<S> {
    Closed,
    StartTls(S),
}

/// One SMTP dialogue on `stream` until QUIT, EOF or STARTTLS (which hands the raw stream back
/// for the handshake). EHLO's answer depends on the phase: STARTTLS in clear, AUTH in TLS.
async fn dialogue<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    phase: Phase,
    seen: &Mutex<Seen>,
) -> Next<S> {
    let in_tls = matches!(phase, Phase::InTls);
    let (offer_starttls, tls_required) = match phase {
        Phase::Clear {
            offer_starttls,
            tls_required,
        } => (offer_starttls, tls_required),
        Phase::InTls => (false, false),
    };
    let mut io = BufReader::new(stream);
    let mut rcpt = String::new();
    let mut line = String::new();
    loop {
        line.clear();
        if io.read_line(&mut line).await.unwrap_or(0) == 0 {
            return Next::Closed;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        let verb = words.first().unwrap_or(&"").to_ascii_uppercase();
        if !in_tls {
            seen.lock().unwrap().plaintext.push(verb.clone());
        }
        let reply: &[u8] = match verb.as_str() {
            "EHLO" if in_tls => b"250-fake.smtp.test\r\n250-AUTH PLAIN LOGIN\r\n250 8BITMIME\r\n",
            "EHLO" if offer_starttls => b"250-fake.smtp.test\r\n250-STARTTLS\r\n250 8BITMIME\r\n",
            "EHLO" => b"250-fake.smtp.test\r\n250 8BITMIME\r\n",
            "STARTTLS" if offer_starttls => {
                io.get_mut().write_all(b"220 2.0.0 go ahead\r\n").await.ok();
                return Next::StartTls(io.into_inner());
            }
            "AUTH"
                if in_tls
                    && words.get(1).map(|m| m.eq_ignore_ascii_case("PLAIN")) == Some(true) =>
            {
                let decoded = words
                    .get(2)
                    .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
                    .map(|b| String::from_utf8_lossy(&b).into_owned())
                    .unwrap_or_default();
                seen.lock().unwrap().auth.push(decoded);
                b"235 2.7.0 accepted\r\n"
            }
            "HELO" | "MAIL" | "RSET" | "NOOP" => b"250 OK\r\n",
            "RCPT" => {
                rcpt = line
                    .split(['<', '>'])
                    .nth(1)
                    .unwrap_or_default()
                    .to_string();
                b"250 OK\r\n"
            }
            "DATA" => {
                io.get_mut().write_all(b"354 go ahead\r\n").await.ok();
                let mut data = String::new();
                loop {
                    line.clear();
                    if io.read_line(&mut line).await.unwrap_or(0) == 0 {
                        return Next::Closed;
                    }
                    let text = line.trim_end_matches(['\r', '\n']);
                    if text == "." {
                        break;
                    }
                    data.push_str(text.strip_prefix('.').unwrap_or(text));
                    data.push('\n');
                }
                seen.lock().unwrap().messages.push((rcpt.clone(), data));
                b"250 queued\r\n"
            }
            "QUIT" => {
                io.get_mut().write_all(b"221 bye\r\n").await.ok();
                return Next::Closed;
            }
            _ if tls_required => b"530 5.7.0 must issue STARTTLS first\r\n",
            _ => b"502 5.5.1 not implemented\r\n",
        };
        if io.get_mut().write_all(reply).await.is_err() {
            return Next::Closed;
        }
    }
}
