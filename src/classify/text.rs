//! Text rules. [`STRONG`] rules name causes that codes cannot express and that arrive under generic
//! codes everywhere (greylisting under 451 4.7.1, DMARC under 550 5.7.1, rate limits under 550 5.1.1 at
//! GoDaddy), so they run before the enhanced-code table. [`WEAK`] rules run after it, ordered from
//! specific to generic; bare words such as "policy" or "access denied" come last because every kind of
//! rejection uses them.
//!
//! Within a rule the fragments are alternatives; they are lower-case because the reply text is.

use super::rule::Stage;
use super::rule::{Rule, RULE};
use super::Category::*;

pub const STRONG: &[Rule] = &[
    // A message going round in circles says nothing about the address or the sender, and its wording
    // ("too many hops", "limit exceeded") would otherwise read as a rate limit. RFC 3463 X.4.6.
    Rule {
        id: "text.mail-loop",
        category: SystemError,
        any: &[
            "mail loop",
            "routing loop",
            "loops back to myself",
            "loop detected",
            "hop count",
            "too many hops",
            // sisimai's SystemError list (go-sisimai reason/why-systemerror.go).
            "forwarding loop",
            "loop was found",
        ],
        // sisimai set-of-emails maildir/bsd/lhost-mailmarshalsmtp-*.eml (sisimai_pairs.tsv).
        example: "Error transferring to neko22.example.org; Maximum hop count exceeded. Message probably in a routing loop.",
        ..RULE
    },
    // postgrey, milter-greylist, Stalwart (422 4.2.2), Exim/sqlgrey: all say "greylist" somewhere.
    Rule {
        id: "text.greylisting",
        category: Greylisted,
        any: &["greylist", "graylist", "grey-list", "gray-list", "grey list", "gray list"],
        example: "451 4.7.1 Greylisting in action, please come back later",
        ..RULE
    },
    // rspamd's default greylisting message is exactly this and nothing else; with more words around it
    // "try again later" means anything.
    Rule {
        id: "text.rspamd-greylisting",
        category: Greylisted,
        codes: &["451"],
        any: &["try again later"],
        exact: &["451 4.7.1 try again later", "451 4.7.1 try again later."],
        example: "451 4.7.1 Try again later",
        ..RULE
    },
    // Mimecast's greylisting text (it may also hide a reputation deferral; either way: retry).
    Rule {
        id: "text.mimecast-greylisting",
        category: Greylisted,
        any: &["internal resources are temporarily unavailable", "internal resource is temporarily unavailable"],
        example: "451 Internal resources are temporarily unavailable",
        ..RULE
    },
    // Auth before rate limits: Gmail's "rate limited because it is unauthenticated" is fixed in DNS.
    Rule {
        id: "text.spf-dkim-dmarc",
        category: AuthFailed,
        any: &[
            "spf",
            "dkim",
            "dmarc",
            "unauthenticated",
            "authentication checks",
            "authentication level",
            "authenticate with",
            // SPF's verdict in the receiver's words: this IP may not send for that domain.
            "not allowed to send mail from",
            "is not allowed to send from",
        ],
        // A duplicated DKIM-Signature header is a malformed message, not a failed signature. A spam
        // filter's verdict that advises checking SPF is about the content: Google Groups' "rejected due to
        // spam classification … Set up SPF records" (sisimai set-of-emails, `spamdetected`) and sisimai's
        // SpamDetected phrasings (p5-sisimai lib/Sisimai/Reason/SpamDetected.pm: "your message failed
        // several antispam checks", "this message was classified as spam", "has been identified as spam",
        // "your email was detected as spam").
        none: &[
            "duplicate header",
            "spam classification",
            "antispam checks",
            "anti-spam checks",
            "classified as spam",
            "identified as spam",
            "detected as spam",
        ],
        example: "550 5.7.1 Email rejected per DMARC policy for libsisimai.org (in reply to end of DATA command)",
        ..RULE
    },
    Rule {
        id: "text.ptr-reverse-dns",
        category: ReverseDnsFailed,
        any: &[
            "ptr record",
            "dns ptr",
            "pointer (ptr)",
            "reverse dns",
            "reverse hostname",
            "rdns",
            "helo/ehlo argument",
            "mismatches client ip",
            "ip name lookup failed",
            "unverifyable sending ip",
            // The HELO/EHLO name: Postfix's `reject_*_helo_hostname` ("Helo command rejected: …"), Haraka's
            // helo.checks ("HELO host …") and Exim's "rejected EHLO or HELO".
            "helo command rejected",
            "invalid helo",
            "helo host",
            "helo is",
            "ehlo or helo",
            "fully-qualified hostname",
            "cannot find your hostname",
            "fcrdns",
            "forward dns",
            "bad dns ptr",
            "valid reverse dns",
        ],
        example: "450 4.7.1 Client host rejected: cannot find your reverse hostname",
        ..RULE
    },
    Rule {
        id: "text.tls-required",
        category: TlsRequired,
        any: &[
            "starttls",
            "tls required",
            "tls is required",
            "tls connection",
            "tls/ssl",
            "requiretls",
            "encryption required",
            "encryption is required",
            // The sender's side of the same problem, as Postfix and Exim report it.
            "tls not available",
            "tls currently unavailable",
            "start tls",
            "tls handshake",
            "tls negotiation",
            "handshake failure",
            "handshake failed",
            // A receiver that offers no STARTTLS to a sender that requires it: Gmail's relay quoting
            // "500 Remote server does not support TLS (state 6)" (sisimai set-of-emails, `failedstarttls`).
            "support tls",
        ],
        // A connection lost while negotiating is the network's failure, not a TLS policy.
        none: &["lost connection"],
        example: "530 5.7.0 Must issue a STARTTLS command first.",
        ..RULE
    },
    // A full mailbox worded by its message count or its space rather than by "quota", before the rate
    // rules that would read "too many messages" as throttling. Phrasings from sisimai's MailboxFull list
    // (go-sisimai reason/why-mailboxfull.go: "user has too many messages on the server", "full mailbox",
    // "user's space has been used up", "mailbox would exceed maximum allowed storage", "not sufficient
    // disk space") and vmailmgr's vcheckquota(1) ("the user has too many messages in their mailbox").
    Rule {
        id: "text.mailbox-full-by-count-or-space",
        category: MailboxFull,
        any: &[
            "too many messages on the server",
            "too many messages in their mailbox",
            "too many messages in the mailbox",
            "full mailbox",
            "space has been used up",
            "would exceed maximum allowed storage",
            "not enough storage space",
            "not sufficient disk space",
        ],
        // reacherhq/check-if-email-exists@0c85e87d core/src/smtp/parser.rs (is_full_inbox).
        example: "550 user has too many messages on the server",
        ..RULE
    },
    // Deferrals whose wording blames the sender's volume or reputation rather than a fixed rule.
    Rule {
        id: "text.volume-deferral",
        category: RateLimited,
        reputation: true,
        any: &["unexpected volume", "excessive volume", "temporarily rate limited", "temporarily deferred"],
        example: "421 4.7.1 Messages to ****@icloud.com deferred due to excessive volume. Try again later",
        ..RULE
    },
    Rule {
        id: "text.rate-limit",
        category: RateLimited,
        any: &[
            "rate limit",
            "ratelimit",
            "too many connections",
            "too many sessions",
            "too many messages",
            "too many recipients",
            "too many concurrent",
            "receiving mail too quickly",
            "receiving mail at a rate",
            "max message per connection",
            "max number of messages",
            "maximum number of connections",
            "server busy",
            "sending too fast",
            "slow down",
            "service unavailable - try again later",
            "messages per connection",
            "try again slower",
            // Throttling worded by counts, frequency and volume rather than "rate" or "limit": Microsoft's
            // per-hour recipient limits (5.2.121/5.2.122), QQ's "frequency limited", Comcast's session
            // count, Gmail's "receiving mail at a rate", queue and sending quotas.
            "too many recent",
            "message rate",
            "rate exceeded",
            "frequency",
            "throttl",
            "per hour",
            "per minute",
            "per day",
            "concurrent connections",
            "connection limit",
            "connections limit",
            "sessions opened",
            "sending quota",
            "queue quota",
            "quota for sending",
            "sending limit",
            "limit for the number of messages",
        ],
        example: "421 4.7.0 Error: too many connections from 192.0.2.1",
        ..RULE
    },
    // Apple and Orange cut the session after repeated errors: a per-connection throttle.
    Rule {
        id: "text.too-many-errors-421",
        category: RateLimited,
        codes: &["421"],
        any: &["too many errors"],
        example: "421 4.7.0 me.com Error: too many errors",
        ..RULE
    },
    // Public DNSBLs and providers' own lists. Postfix's template opens with "Service unavailable;", which
    // must not read as a system error.
    Rule {
        id: "text.blocklist",
        category: ReputationBlocked,
        any: &[
            "blocked using",
            "block list",
            "blocklist",
            "blacklist",
            "block listed",
            "listed on",
            "dnsbl",
            "rbl",
            "spamhaus",
            "spamcop",
            // Barracuda's list, not every reply that passed a barracudanetworks.com host.
            "barracudacentral",
            "barracuda reputation",
            "abuseat",
            "sorbs",
            "cloudmark",
            "not in whitelist",
            "banned sending ip",
            // Proofpoint's block template ("554 Blocked - see <lookup URL>") and lists named in other words.
            "blocked - see",
            "spam list",
            "spam source",
            "block for spam",
            "blocked for spam",
            "blocked due to spam",
            "is listed in",
        ],
        // A listed URL is the content's fault, and this template only guesses at a blocklist.
        none: &["blacklisted url", "a url in this email", "account or domain may not exist"],
        example: "554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org; https://www.spamhaus.org/query/ip/192.0.2.1",
        ..RULE
    },
    Rule {
        id: "text.poor-reputation",
        category: ReputationBlocked,
        any: &[
            "reputation",
            "denial of service",
            "blocked for spamming",
            ":blocked)",
            "reject due to policy violations",
            "spam sender",
        ],
        example: "550 5.7.1 Our system has detected that this message is likely suspicious due to the very low reputation of the sending IP address/domain.",
        ..RULE
    },
    // Quota wording is unambiguous, and Orange and qmail put it under 5.1.1.
    Rule {
        id: "text.mailbox-full",
        category: MailboxFull,
        any: &[
            "mailbox full",
            "mailbox is full",
            "over quota",
            "quota exceeded",
            "quota limit exceeded",
            "over storage quota",
            "storage space",
            "exceeded storage",
            "speichervolumen",
            "insufficient storage",
            "disk space",
            "exceeded the local limit",
            "exceeds allowed size",
            "mailfolder is full",
            // A mailbox's or a user's quota; sending and queue quotas were taken by the rate rules above.
            "overquota",
            "user quota",
            "mailbox quota",
            "disk quota",
            "quota violation",
            "quota reached",
            "mailbox size",
            "storage allocation",
        ],
        example: "550 Benutzer hat das Speichervolumen ueberschritten. / User has exhausted allowed storage space.",
        ..RULE
    },
    // A policy named as the reason outranks a specific code: Zoho and others answer policy refusals
    // under mailbox and size codes. Phrasings from sisimai's PolicyViolation list (go-sisimai
    // reason/why-policyviolation.go: "local policy violation", "denied by policy", "message rejected due
    // to local policy", "the message was rejected by organization policy") and KumoMTA's
    // `restricted by policy error` (assets/community/bounces.toml). After the reputation and quota rules,
    // whose texts may say "policy violations" of the sender.
    Rule {
        id: "text.policy-violation",
        category: PolicyRejected,
        any: &[
            "policy violation",
            "policy error",
            "mailpolicy",
            "denied by policy",
            "due to local policy",
            "organization policy",
        ],
        // sisimai set-of-emails maildir/bsd/lhost-postfix-51.eml (sisimai_pairs.tsv).
        example: "host neko-nyaan-02.example.org[192.0.2.2] said: 550 5.7.0 Local Policy Violation (in reply to end of DATA command)",
        ..RULE
    },
];

pub const WEAK: &[Rule] = &[
    Rule {
        id: "text.relay-denied",
        category: RelayDenied,
        any: &[
            "relay access denied",
            "relaying denied",
            "relay denied",
            "unable to relay",
            "relay not permitted",
            "relaying not allowed",
            "credentials for relay",
            "rcpthosts",
            "not authorized to send email directly",
            "relay mail",
            "no relaying",
            "insecure mail relay",
            "relaying disallowed",
            "as a relay",
            "not permitted to relay",
            "we do not relay",
            "relay prohibited",
            // Amazon SES's SMTP endpoint will not send for an identity it has not verified (its sandbox
            // or an unverified From): "554 Message rejected: Email address is not verified. The following
            // identities failed the check in region …" (sisimai norelaying, set-of-emails lhost-postfix-77, and
            // repost.aws/knowledge-center/ses-554-400-message-rejected-error).
            "identities failed the check",
        ],
        example: "554 5.7.1 <*****@icloud.com>: Relay access denied",
        ..RULE
    },
    // A null MX refused under a security or policy code is the sender's domain's: RFC 7505 §4.2 has
    // receivers reject mail from a domain that publishes one ("550 5.7.27 Sender address has null MX",
    // the IANA registry's X.7.27), whereas the recipient's null MX is X.1.10 (`code.x.1.10`).
    Rule {
        id: "text.sender-null-mx",
        category: SenderRejected,
        codes: &["x.7.*"],
        any: &["null mx"],
        example: "550 5.7.27 Sender address has null MX",
        ..RULE
    },
    Rule {
        id: "text.domain-not-found",
        category: DomainNotFound,
        any: &[
            "host or domain name not found",
            "name service error",
            "domain not found",
            "domain does not exist",
            "no mx record",
            "null mx",
            "nxdomain",
            "unrouteable mail domain",
            "host unknown",
            "unknown host",
            "no such domain",
            "domain is not reachable",
            "dns lookup failure",
            "illegal host/domain name",
            "domain may not exist",
            "does not accept mail",
            "no mx found",
            // Brevo's soft bounce: "Unable to find MX of domain no-mx.example.com".
            "unable to find mx",
            "no smtp service",
            "not accepting network messages",
            // The resolver's own words for a recipient domain that does not resolve (glibc, Postfix,
            // qmail "couldn't find any host named", Exchange "DNS query failed").
            "name or service not known",
            "no such host",
            "find any host",
            "domain name not found",
            "dns query failed",
            "could not resolve",
            "unable to resolve",
        ],
        example: "Host or domain name not found. Name service error for name=example.jp type=A: Host not found",
        ..RULE
    },
    // Gmail explains RFC 5322 violations under 550 5.7.1, so the wording must decide.
    Rule {
        id: "text.rfc5322-violation",
        category: ContentInvalid,
        any: &[
            "rfc 5322",
            "rfc5322",
            "malformed",
            "valid message-id",
            "multiple subject headers",
            "duplicate header",
            "multiple addresses in from",
            "disallowed header",
            "bare lf",
            "bare line feed",
            "rfc compliant",
            "rfc 2822",
            "rfc2822",
            "missing a valid address in from",
        ],
        example: "[192.0.2.222 13] Messages with multiple addresses in From: header are not accepted. r7si1238383pli.26 - gsmtp",
        ..RULE
    },
    // Blocks of the sending host that name no list.
    Rule {
        id: "text.sending-host-blocked",
        category: ReputationBlocked,
        any: &[
            "access from ip address",
            "invalid ip for sending",
            "blocked for abuse",
            "my name was rejected",
            "open relay",
            "(bl)",
            // What the receiver takes the sending host for: a dynamic or residential address that should
            // go through its ISP's relay, a host that is not a mail server, an open proxy. Sisimai's
            // Blocked reason lists these (p5-sisimai lib/Sisimai/Reason/Blocked.pm: "Please use the smtp
            // server of your ISP", "hosts with dynamic ip", "Dynamic/zombied/spam IPs blocked", "Client
            // host rejected: may not be mail exchanger", "Rejecting open proxy", "Bad sender IP address").
            "server of your isp",
            "dynamic ip",
            "dynamic/zombied",
            "may not be mail exchanger",
            "open proxy",
            "bad sender ip",
            "sender ip address rejected",
            "not currently accepting mail from your ip",
            "not allowed to connect",
        ],
        example: "550 Access from ip address 192.0.2.1 blocked.",
        ..RULE
    },
    // A content scanner that could not scan is the receiver's failure, not a verdict on the message: the
    // word "virus" in it must not read as infected content. milter-clamc answers "550 5.7.1 anti-virus
    // unavailable" when clamd does not answer (SirWumpus/milter-clamc README, "SMTP Responses"); amavis
    // defers with "Error in processing, id=…, virus_scan FAILED" (its "ALL VIRUS SCANNERS FAILED" log).
    Rule {
        id: "text.content-scanner-failed",
        category: SystemError,
        any: &[
            "anti-virus unavailable",
            "antivirus unavailable",
            "virus_scan failed",
            "scanners failed",
        ],
        example: "550 5.7.1 anti-virus unavailable",
        ..RULE
    },
    Rule {
        id: "text.spam-or-virus",
        category: SpamContent,
        any: &[
            "spam",
            "unsolicited",
            " ube",
            "virus",
            "malware",
            "junk",
            "content rejected",
            "nature of the content",
            "content denied",
            "blacklisted url",
            "a url in this email",
            "mail score",
            "dt:spm",
            "bulk mail",
            "uribl",
            "surbl",
        ],
        example: "552 Message rejected for spam or virus content",
        ..RULE
    },
    Rule {
        id: "text.sender-rejected",
        category: SenderRejected,
        any: &[
            "sender address rejected",
            "invalid sender",
            "sender verify failed",
            "domain of sender address",
            "from: domain is invalid",
            "sender domain",
            // An outbound gateway that knows no such sending user (sisimai's Rejected list, p5-sisimai
            // lib/Sisimai/Reason/Rejected.pm; set-of-emails: "550 '…' is not a registered gateway user").
            "is not a registered gateway user",
        ],
        example: "5.0.1 Emetteur invalide. Invalid Sender. LPN105_405",
        ..RULE
    },
    // A reply that names the HELO/EHLO greeting (other than as a relay's stage wrapper or a connection
    // lost during it) objects to the name the sender gave: RFC 5321 §4.1.1.1 wants the client's FQDN or
    // an address literal, and receivers check it against DNS. After the relay, sender and spam rules,
    // whose texts may quote the greeting in passing. Example: a university MX's rejection pasted at
    // http://www.under-score.org.uk/pipermail/underscore/2007-April/060030.html.
    Rule {
        id: "text.helo-name",
        category: ReverseDnsFailed,
        any: &["helo", "ehlo"],
        none: &["after helo", "after ehlo", "reply to helo", "reply to ehlo", "handshake"],
        example: "550 Please use your real hostname when saying HELO (not HSP-AV01)",
        ..RULE
    },
    // The queue's own verdict, stated before the cause it quotes: Exchange's "550 5.4.316 Message expired,
    // connection refused(Socket error code 10061)" (sisimai set-of-emails lhost-exchange2013, `expired`)
    // and "QUEUE.Expired". Before the network rule that would read the quoted refusal; skipped for a
    // deferral like every `expired` rule.
    Rule {
        id: "text.message-expired",
        category: Expired,
        // Exchange's final word after its failover: "Attempted failover to alternate host, but that did
        // not succeed. Either there are no alternate hosts, or delivery failed to all alternate hosts"
        // (sisimai set-of-emails lhost-exchange2007-05, `expired`).
        any: &["message expired", "queue.expired", "failed to all alternate hosts"],
        example: "Server at SG2APC01HT007.eop-APC01.prod.protection.outlook.com returned '550 5.4.316 Message expired, connection refused(Socket error code 10061)'",
        ..RULE
    },
    // A connection that never happened only reaches a bounce report once the queue gave up, and
    // sisimai's corpus labels every such report expired. Only code-less text, the sending MTA's own:
    // a receiver answering "421 4.4.2 timeout exceeded" is a network error, and a deferral is never
    // expired (see `context`). Before system errors, whose "temporary failure" a delay notice quotes.
    Rule {
        id: "text.connection-timed-out",
        category: Expired,
        codeless: true,
        any: &[
            "timed out",
            "timeout",
            "host not reachable",
            "did not accept our requests to connect",
            "unable to connect successfully",
            "failed to connect",
        ],
        example: "connect to example.com[93.184.216.119]: Connection timed out",
        ..RULE
    },
    Rule {
        id: "text.system-error",
        category: SystemError,
        any: &[
            "temporary system problem",
            "temporary server error",
            "internal error",
            "local error in processing",
            "system error",
            "transaction failed",
            "mail loop",
            "loops back to myself",
            "mail system full",
            "service unavailable",
            "service currently unavailable",
            "service is currently unavailable",
            "service is temporarily unavailable",
            // Exchange Online's storage replication (451 4.4.0).
            "failed to be replicated",
            "temporary failure",
            "pipe to |",
            "x-unix;",
            // The local delivery agent's own failure, not the mailbox's: sisimai's MailerError family
            // ("procmail: Lock failure on …", "procmail: Couldn't create …", set-of-emails lhost-postfix-01).
            "procmail:",
            // The receiver's own configuration or storage failing, from sisimai's SystemError list
            // (go-sisimai reason/why-systemerror.go).
            "configuration error",
            "config error",
            "misconfigured",
            "queue file write error",
            "temporary local problem",
            "encountered an error while being processed",
        ],
        example: "451 [BS02] Temporary server error. Please try again later.",
        ..RULE
    },
    // A size refusal is about the message even when it answers MAIL FROM (its SIZE= parameter).
    Rule {
        id: "text.message-too-large",
        category: MessageTooLarge,
        any: &["too large", "too big", "size limit", "message size", "size exceeds"],
        example: "552 Message size exceeds fixed maximum message size",
        ..RULE
    },
    // A rejection of MAIL FROM is about the sender, whatever words it uses ("does not exist").
    Rule {
        id: "stage.mail-from-rejected",
        category: SenderRejected,
        codes: &["5??"],
        stage: Some(Stage::MailFrom),
        example: "host mail.example.edu [192.0.2.222] SMTP error from remote mail server after MAIL FROM:<sironeko-nyaan@neko.example.com> SIZE=1024: 550 Unroutable sender address",
        ..RULE
    },
    Rule {
        id: "text.mailbox-disabled",
        category: MailboxDisabled,
        any: &[
            "account that you tried to reach is disabled",
            "account that you tried to reach is inactive",
            "user is inactive",
            "mailbox is disabled",
            "mailbox disabled",
            "account disabled",
            "account has been disabled",
            "no longer valid",
            "account is disabled",
            "account is locked",
            "temporary locked",
            "is suspended",
            "account suspended",
            "suspend the service",
            "deactivated",
            "not active",
            "not activated",
            "account closed",
            "currently suspended",
            "inactive",
            "not an active",
            "discontinued",
            "has been disabled",
            // sisimai's Suspend list (go-sisimai reason/why-suspend.go).
            "user is terminated",
            "mailbox is frozen",
            "no longer accepts mail",
            "user suspended",
            "archived recipient",
            // sisimai/go-sisimai#202: "This email inbox kijitora@example.jp is no longer in use."
            "no longer in use",
            "user or domain is disabled",
        ],
        example: "550 5.2.1 ... User is inactive",
        ..RULE
    },
    // RFC 5321 §4.2.3 gives 550 one generic text, "Requested action not taken: mailbox unavailable (e.g.,
    // mailbox not found, no access, or command rejected for policy reasons)": servers prefix it to their
    // real reason, so when that reason is a policy the generic words say nothing about the mailbox.
    Rule {
        id: "text.rfc5321-mailbox-unavailable-for-policy",
        category: PolicyRejected,
        all: &["mailbox unavailable"],
        any: &["policy", "policies"],
        example: "550 Requested action not taken: mailbox unavailable (e.g., mailbox not found, no access, or command rejected for policy reasons)",
        ..RULE
    },
    // A bare host name said not to exist is the domain, not a mailbox: Exim's "553 neko.example.com does
    // not exist" (sisimai hostunknown, set-of-emails lhost-exim-37). An address's domain is preceded by
    // its `@`, which is not allowed before the name. A function, not a regex: regex-lite's pass over the
    // text of every "does not exist" reply cost about a fifth of classifying the whole corpus.
    Rule {
        id: "text.host-does-not-exist",
        category: DomainNotFound,
        all: &["does not exist"],
        check: Some(host_does_not_exist),
        example: "host mx.example.net [192.0.2.222] SMTP error from remote mail server after end of data: 553 neko.example.com does not exist",
        ..RULE
    },
    Rule {
        id: "text.mailbox-unknown",
        category: MailboxUnknown,
        any: &[
            "user unknown",
            "unknown user",
            "no such user",
            "no such mailbox",
            "does not exist",
            "recipient not found",
            "user not found",
            "invalid recipient",
            "unknown recipient",
            "mailbox unavailable",
            "mailbox not found",
            "no mailbox found",
            "mail-box not found",
            "addressee unknown",
            "recipient unavailable",
            "unrouteable address",
            "user doesn't have a",
            "not our customer",
            "not our user",
            "address not found",
            "address couldn't be found",
            "no valid recipients",
            "not listed in",
            "address unknown",
            "no mail-box here",
            "undeliverable address",
            "invalid final delivery userid",
            // Trend Micro's appliance: "Unable to deliver message to <…> (and other recipients in the
            // same domain). Please check if address is correct." (sisimai userunknown, set-of-emails
            // lhost-trendmicro-02), and the same advice in other words.
            "check if address is correct",
            "check if the address is correct",
            "check that the address is correct",
        ],
        example: "550 kijitora@neko.example.org... No such user",
        ..RULE
    },
    // RFC 5321's own 553 wording.
    Rule {
        id: "text.mailbox-name-invalid",
        category: MailboxNameInvalid,
        any: &[
            "mailbox name not allowed",
            "bad address syntax",
            "invalid address syntax",
            "fully-qualified address",
            "fully qualified address",
            "invalid address",
        ],
        example: "553 5.1.0 Requested action not taken: mailbox name not allowed",
        ..RULE
    },
    Rule {
        id: "text.network",
        category: NetworkError,
        any: &[
            "connection refused",
            "timed out",
            "no route to host",
            "connection reset",
            "lost connection",
            "network is unreachable",
            "network error",
            "host name lookup failure",
            "dns error",
            "timeout",
            "host not reachable",
            "connection closed",
            "while receiving the initial server greeting",
        ],
        example: "Deferred: Connection refused by mx.example.ne.jp.",
        ..RULE
    },
    // Queue wrappers ("could not be delivered for 8 hours", "in the queue too long") come after the
    // causes they may quote.
    Rule {
        id: "text.expired",
        category: Expired,
        any: &[
            "expired",
            "queue too long",
            "giving up.",
            "retry timeout exceeded",
            "has been delayed",
            "will be retried",
            "not delivered within",
            "could not be delivered for",
            "failing for a long time",
            "could not find a gateway",
            "unable to deliver this message after",
        ],
        // qmail's "Giving up on <ip>" follows the remote reply, which decides instead.
        example: "Could not deliver for the last 432000 seconds. Giving up.",
        ..RULE
    },
    // "Delivery failed 20 attempts": the sender's queue gave up.
    Rule {
        id: "text.attempts-exhausted",
        category: Expired,
        any: &["attempts"],
        regex: Some(r"\d+ attempts"),
        example: "Delivery failed 20 attempts: kijitora@example.com",
        ..RULE
    },
    // A reply to the greeting or to HELO judges the sending host, not the message or the recipient.
    Rule {
        id: "stage.greeting-rejected",
        category: ReputationBlocked,
        stage: Some(Stage::Connect),
        example: "SMTP error from remote mail server after initial connection: host email-22.example.net [192.0.2.222]: 554 You've reached your daily relay quota - 203.0.113.0",
        ..RULE
    },
    Rule {
        id: "stage.helo-rejected",
        category: ReputationBlocked,
        stage: Some(Stage::Helo),
        example: "host example.com.nekochan.example.net [203.0.113.222] SMTP error from remote mail server after EHLO neko.example.com: 550 Rejected",
        ..RULE
    },
    // Submission-side authentication (SMTP AUTH) is the receiver's policy, not an SPF/DKIM matter.
    // "Recipient address rejected: Access denied" is Postfix's generic text for an access(5) table's
    // REJECT ("otherwise reply with a generic error response message"): a site's policy, not a verdict on
    // the mailbox. Microsoft's directory-based edge blocking says the same words under 5.4.1 to mean an
    // unknown recipient; `ms.5.4.1-recipient-access-denied` catches that first.
    Rule {
        id: "text.policy",
        category: PolicyRejected,
        any: &[
            "policy",
            "prohibited",
            "authentication required",
            "password",
            "log in with your web browser",
            "authentication not allowed",
            "security issue",
            "illegal attachment",
            "access denied",
            "not allowed",
            "content presents a potential",
            "policies",
            "filtered",
            "blocked by the recipient",
            "permission to post",
            "not a member of",
            "rejected by recipient",
        ],
        // go-sisimai reason/02-includedin_test.go (sisimai_pairs.tsv, `policyviolation`).
        example: "570 5.7.7 Email not accepted for policy reasons",
        ..RULE
    },
    // What a receiver's access list says when it names no cause: sendmail's access.db answers "550 5.7.1
    // sender blocked" or "connection … blocked" for a blacklisted sender or client, and "550 5.7.1
    // recipient blocked" for a recipient the site refuses (SirWumpus/milter-clamc README, "SMTP
    // Responses"). After every rule that names a cause, so "blocked" only decides when nothing else does.
    Rule {
        id: "text.recipient-blocked",
        category: PolicyRejected,
        any: &["recipient blocked", "recipient is blocked"],
        example: "550 5.7.1 recipient blocked",
        ..RULE
    },
    Rule {
        id: "text.sender-blocked",
        category: ReputationBlocked,
        any: &["blocked"],
        // A blocked mailbox or account is the recipient's state, not a verdict on the sender.
        none: &["recipient", "mailbox", "account"],
        example: "550 5.7.1 sender blocked",
        ..RULE
    },
    // A temporary refusal worded "temporarily unavailable" is the receiver's passing state, not the
    // mailbox's: tamingdns' bounce decoder lists "450 Mailbox temporarily unavailable" among the 450
    // formats it sees (https://tamingdns.com/bounce-decoder/450-requested-action-not-taken-temporary).
    // Here rather than with the system errors so that a queue report quoting it stays `expired`.
    Rule {
        id: "text.temporarily-unavailable",
        category: SystemError,
        codes: &["4??"],
        any: &["temporarily unavailable"],
        example: "450 Mailbox temporarily unavailable",
        ..RULE
    },
    Rule {
        id: "text.protocol",
        category: ProtocolError,
        any: &[
            "syntax error",
            "bad sequence",
            "command not recognized",
            "unrecognized command",
            "not implemented",
            "protocol violation",
        ],
        example: "501 Syntax error in parameters or arguments",
        ..RULE
    },
];

/// Whether `text` says a bare host name "does not exist": the word before it is a run of labels
/// (`[a-z0-9-]+`, dot-separated, a trailing dot allowed) ending in one of at least two letters, and it stands
/// at the start of the text or after white space, `:`, `;`, `(` or `[` (so not after an address's `@`).
fn host_does_not_exist(text: &str) -> bool {
    let bytes = text.as_bytes();
    memchr::memmem::find_iter(bytes, b" does not exist").any(|end| {
        let is_name = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.';
        let start = bytes[..end].iter().rposition(|&b| !is_name(b)).map_or(0, |i| i + 1);
        let before_ok = start == 0 || matches!(bytes[start - 1], b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c | b':' | b';' | b'(' | b'[');
        let name = &text[start..end];
        let name = name.strip_suffix('.').unwrap_or(name);
        let labels: Vec<&str> = name.split('.').collect();
        let last = labels.last().copied().unwrap_or_default();
        before_ok
            && labels.len() >= 2
            && labels.iter().all(|label| !label.is_empty())
            && last.len() >= 2
            && last.bytes().all(|b| b.is_ascii_lowercase())
    })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    /// The pattern `host_does_not_exist` stands for, which it must agree with on every text.
    const PATTERN: &str = r"(?:^|[\s:;(\[])[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}\.? does not exist";

    #[test]
    fn host_does_not_exist_agrees_with_its_pattern_on_the_edges() {
        let pattern = regex_lite::Regex::new(PATTERN).unwrap();
        for text in [
            "553 neko.example.com does not exist",
            "neko.example.com. does not exist",
            "(mx-1.example.jp does not exist)",
            "550 kijitora@neko.example.com does not exist",
            "550 mailbox kijitora does not exist",
            "550 host a..com does not exist",
            "550 host .com does not exist",
            "550 host example.c does not exist",
            "550 host example.c0m does not exist",
            "550 host 192.0.2.1 does not exist",
            "x does not exist; then host.example.org does not exist",
            "does not exist",
            "",
        ] {
            assert_eq!(super::host_does_not_exist(text), pattern.is_match(text), "{text:?}");
        }
    }

    proptest! {
        #[test]
        fn host_does_not_exist_agrees_with_its_pattern(
            head in "[a-z0-9.@:;(\\[ \t-]{0,24}",
            tail in "[a-z .]{0,8}",
        ) {
            let pattern = regex_lite::Regex::new(PATTERN).unwrap();
            let text = format!("{head} does not exist{tail}");
            prop_assert_eq!(super::host_does_not_exist(&text), pattern.is_match(&text), "{:?}", text);
        }
    }
}
