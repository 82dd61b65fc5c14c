//! Outgoing mail: SMTP through lettre when EMAIL_HOST/SMTP_HOST is set, otherwise a development
//! outbox (one `.eml` file per message under `<data dir>/outbox/`) so password reset and email
//! verification work end to end on a machine without a mail server.

use std::path::{Path, PathBuf};
use std::time::Duration;

use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{Body, Mailbox};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::{ExposeSecret, SecretString};

/// How to reach the SMTP server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// Plain connection upgraded with STARTTLS (port 587), required.
    StartTls,
    /// TLS from the first byte (port 465).
    Tls,
    /// No encryption: only for a relay on this machine.
    None,
}

#[derive(Debug, Clone)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub user: Option<String>,
    pub pass: Option<SecretString>,
    pub security: SmtpSecurity,
    /// Extra trusted root certificates (PEM) for a relay whose certificate is not signed by a
    /// public CA (a company relay, a self-signed test server): `EMAIL_TLS_CA_FILE`.
    pub ca_file: Option<PathBuf>,
}

#[derive(Debug, Clone)]
pub struct MailSettings {
    pub smtp: Option<SmtpSettings>,
    pub from: String,
}

impl MailSettings {
    /// Reads `EMAIL_*` (or the `SMTP_*` / `MAIL_FROM` spellings); reports every problem.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, Vec<String>> {
        let get = |names: [&str; 2]| {
            names.iter().find_map(|n| {
                get(n)
                    .map(|v| v.trim().to_string())
                    .filter(|v| !v.is_empty())
            })
        };
        let mut errors = Vec::new();
        let from = get(["EMAIL_FROM", "MAIL_FROM"])
            .unwrap_or_else(|| "Runway <no-reply@localhost>".to_string());
        if from.parse::<Mailbox>().is_err() {
            errors.push(format!(
                "EMAIL_FROM must be an address like `App <no-reply@example.com>` (got `{from}`)"
            ));
        }
        let smtp = match get(["EMAIL_HOST", "SMTP_HOST"]) {
            None => None,
            Some(host) => {
                let security = match get(["EMAIL_TLS", "SMTP_TLS"])
                    .map(|v| v.to_ascii_lowercase())
                    .as_deref()
                {
                    None | Some("starttls") => SmtpSecurity::StartTls,
                    Some("tls") => SmtpSecurity::Tls,
                    Some("none") => SmtpSecurity::None,
                    Some(v) => {
                        errors.push(format!(
                            "EMAIL_TLS must be starttls, tls or none (got `{v}`)"
                        ));
                        SmtpSecurity::StartTls
                    }
                };
                let default_port = if security == SmtpSecurity::Tls {
                    465
                } else {
                    587
                };
                let port = match get(["EMAIL_PORT", "SMTP_PORT"]) {
                    None => default_port,
                    Some(v) => v.parse().unwrap_or_else(|_| {
                        errors.push(format!("EMAIL_PORT must be a port number (got `{v}`)"));
                        default_port
                    }),
                };
                let user = get(["EMAIL_USER", "SMTP_USER"]);
                let pass = get(["EMAIL_PASS", "SMTP_PASS"]).map(SecretString::from);
                if user.is_some() != pass.is_some() {
                    errors.push("EMAIL_USER and EMAIL_PASS must be set together".into());
                }
                let ca_file = get(["EMAIL_TLS_CA_FILE", "SMTP_TLS_CA_FILE"]).map(PathBuf::from);
                if ca_file.is_some() && security == SmtpSecurity::None {
                    errors.push(
                        "EMAIL_TLS_CA_FILE is set but EMAIL_TLS=none: use starttls or tls".into(),
                    );
                }
                Some(SmtpSettings {
                    host,
                    port,
                    user,
                    pass,
                    security,
                    ca_file,
                })
            }
        };
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Self { smtp, from })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("invalid address: {0}")]
    Address(String),
    #[error("could not build the message: {0}")]
    Build(String),
    #[error("SMTP delivery failed: {0}")]
    Smtp(String),
    #[error("could not write to the outbox: {0}")]
    Outbox(String),
}

/// Where a message went, for the caller's log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivered {
    Smtp,
    Outbox(PathBuf),
}

#[derive(Clone)]
pub struct Mailer {
    from: Mailbox,
    inner: Transport,
}

#[derive(Clone)]
enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Outbox(PathBuf),
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.inner {
            Transport::Smtp(_) => f.write_str("Mailer(smtp)"),
            Transport::Outbox(dir) => write!(f, "Mailer(outbox {})", dir.display()),
        }
    }
}

impl Mailer {
    /// `outbox_dir` receives the messages when no SMTP server is configured.
    pub fn new(settings: &MailSettings, outbox_dir: PathBuf) -> Result<Self, String> {
        let from: Mailbox = settings
            .from
            .parse()
            .map_err(|e| format!("EMAIL_FROM: {e}"))?;
        let inner = match &settings.smtp {
            None => Transport::Outbox(outbox_dir),
            Some(s) => {
                let extra_roots = s.ca_file.as_deref().map(read_ca_file).transpose()?;
                let tls = || {
                    let mut params = TlsParameters::builder(s.host.clone());
                    if let Some(cert) = &extra_roots {
                        params = params.add_root_certificate(cert.clone());
                    }
                    params
                        .build()
                        .map_err(|e| format!("EMAIL_HOST `{}`: {e}", s.host))
                };
                let security = match s.security {
                    SmtpSecurity::StartTls => Tls::Required(tls()?),
                    SmtpSecurity::Tls => Tls::Wrapper(tls()?),
                    SmtpSecurity::None => Tls::None,
                };
                let mut builder =
                    AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(s.host.clone())
                        .port(s.port)
                        .tls(security)
                        .timeout(Some(Duration::from_secs(15)));
                if let (Some(user), Some(pass)) = (&s.user, &s.pass) {
                    builder = builder.credentials(Credentials::new(
                        user.clone(),
                        pass.expose_secret().to_string(),
                    ));
                }
                Transport::Smtp(builder.build())
            }
        };
        Ok(Self { from, inner })
    }

    /// True when real email is sent (SMTP configured), which is what `/email-configured` reports.
    pub fn is_configured(&self) -> bool {
        matches!(self.inner, Transport::Smtp(_))
    }

    pub async fn send(
        &self,
        to: &str,
        subject: &str,
        body: String,
    ) -> Result<Delivered, MailError> {
        let to: Mailbox = to.parse().map_err(|_| MailError::Address(to.to_string()))?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .header(ContentType::TEXT_PLAIN)
            // Plain 7bit when possible, so links stay readable in the outbox files (quoted-
            // printable would split and escape them); otherwise lettre picks an encoding.
            .body(plain_body(body))
            .map_err(|e| MailError::Build(e.to_string()))?;
        match &self.inner {
            Transport::Smtp(transport) => transport
                .send(message)
                .await
                .map(|_| Delivered::Smtp)
                .map_err(|e| MailError::Smtp(e.to_string())),
            Transport::Outbox(dir) => {
                tokio::fs::create_dir_all(dir)
                    .await
                    .map_err(|e| MailError::Outbox(format!("{}: {e}", dir.display())))?;
                let name = format!(
                    "{}-{}.eml",
                    chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ"),
                    uuid::Uuid::new_v4()
                );
                let path = dir.join(name);
                tokio::fs::write(&path, message.formatted())
                    .await
                    .map_err(|e| MailError::Outbox(format!("{}: {e}", path.display())))?;
                Ok(Delivered::Outbox(path))
            }
        }
    }
}

/// The PEM bundle named by `EMAIL_TLS_CA_FILE`, read once at startup so a wrong path stops the
/// server with the variable's name instead of failing every message later.
fn read_ca_file(path: &Path) -> Result<Certificate, String> {
    let pem =
        std::fs::read(path).map_err(|e| format!("EMAIL_TLS_CA_FILE `{}`: {e}", path.display()))?;
    let cert = Certificate::from_pem(&pem).map_err(|e| {
        format!(
            "EMAIL_TLS_CA_FILE `{}`: not a PEM certificate bundle ({e})",
            path.display()
        )
    })?;
    if !String::from_utf8_lossy(&pem).contains("-----BEGIN CERTIFICATE-----") {
        return Err(format!(
            "EMAIL_TLS_CA_FILE `{}`: no certificate in it (expected -----BEGIN CERTIFICATE-----)",
            path.display()
        ));
    }
    Ok(cert)
}

/// 7bit as-is when the text allows it (ASCII, no NUL, lines well under SMTP's 998), which
/// lettre's own choice refuses for lines over 76 characters.
fn plain_body(text: String) -> Body {
    let fits = text.is_ascii() && !text.contains('\0') && text.lines().all(|l| l.len() < 900);
    if fits {
        let crlf = text.replace("\r\n", "\n").replace('\n', "\r\n");
        Body::dangerous_pre_encoded(crlf.into_bytes(), ContentTransferEncoding::SevenBit)
    } else {
        Body::new(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(pairs: &[(&str, &str)]) -> Result<MailSettings, Vec<String>> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        MailSettings::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn no_host_means_outbox() {
        let s = settings(&[]).unwrap();
        assert!(s.smtp.is_none());
        assert!(!Mailer::new(&s, "/tmp/x".into()).unwrap().is_configured());
    }

    #[test]
    fn smtp_spellings_and_errors() {
        let s = settings(&[("SMTP_HOST", "mail.example.com"), ("SMTP_TLS", "tls")]).unwrap();
        let smtp = s.smtp.unwrap();
        assert_eq!((smtp.port, smtp.security), (465, SmtpSecurity::Tls));
        let e = settings(&[
            ("EMAIL_HOST", "h"),
            ("EMAIL_PORT", "x"),
            ("EMAIL_USER", "u"),
            ("EMAIL_FROM", "nope"),
        ])
        .unwrap_err()
        .join("\n");
        for var in ["EMAIL_PORT", "EMAIL_PASS", "EMAIL_FROM"] {
            assert!(e.contains(var), "{var}: {e}");
        }
    }

    #[test]
    fn ca_file_problems_name_the_variable() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.pem");
        let garbage = dir.path().join("garbage.pem");
        std::fs::write(&garbage, "not a certificate\n").unwrap();
        for (path, expect) in [(&missing, "missing.pem"), (&garbage, "no certificate")] {
            let s = settings(&[
                ("EMAIL_HOST", "mail.example.com"),
                ("EMAIL_TLS_CA_FILE", path.to_str().unwrap()),
            ])
            .unwrap();
            let err = Mailer::new(&s, "/tmp/x".into()).unwrap_err();
            assert!(err.starts_with("EMAIL_TLS_CA_FILE"), "{err}");
            assert!(err.contains(expect), "{err}");
        }
        let err = settings(&[
            ("EMAIL_HOST", "relay.local"),
            ("EMAIL_TLS", "none"),
            ("EMAIL_TLS_CA_FILE", "/x.pem"),
        ])
        .unwrap_err()
        .join("\n");
        assert!(err.contains("EMAIL_TLS_CA_FILE"), "{err}");
    }

    #[tokio::test]
    async fn outbox_writes_one_file_per_message() {
        let dir = tempfile::tempdir().unwrap();
        let s = settings(&[]).unwrap();
        let outbox = dir.path().join("outbox");
        let mailer = Mailer::new(&s, outbox.clone()).unwrap();
        let Delivered::Outbox(path) = mailer
            .send(
                "ann@example.com",
                "Reset",
                format!(
                    "Someone asked to reset the password.\n\nTo choose a new one, open:\nhttp://localhost:8080/password-reset?token={}\n",
                    "a".repeat(43)
                ),
            )
            .await
            .unwrap()
        else {
            panic!("expected outbox delivery");
        };
        let text = std::fs::read_to_string(path).unwrap();
        assert!(text.contains("To: ann@example.com"));
        assert!(text.contains("Subject: Reset"));
        assert!(
            text.contains(&format!("token={}", "a".repeat(43))),
            "link kept whole: {text}"
        );
        assert!(
            mailer
                .send("not an address", "x", String::new())
                .await
                .is_err()
        );
        assert_eq!(std::fs::read_dir(outbox).unwrap().count(), 1);
    }
}
