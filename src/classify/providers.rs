//! Provider rules: vendor codes and tags that override the IANA meaning of a code, or that name a
//! provider-specific cause no generic rule would get right. They run first.
//!
//! Sources: each provider's published error reference, quoted in go-sisimai's `rhost/for-*.go`, KumoMTA's
//! `assets/community/bounces.toml` and `shaping.toml`, and real bounces from sisimai's set-of-emails
//! (see `tests/fixtures/replies/provider_replies.tsv`, which holds every example below with its source).

use super::rule::Stage;
use super::rule::{Rule, RULE};
use super::Category::*;

pub const RULES: &[Rule] = &[
    // --- Microsoft (Outlook.com, Exchange Online). NDR reference: learn.microsoft.com
    //     "Email non-delivery reports and SMTP errors in Exchange Online".
    // Microsoft's 5.1.10 is "recipient not found", not IANA's null MX.
    Rule {
        id: "ms.5.1.10-recipient-not-found",
        category: MailboxUnknown,
        codes: &["x.1.10"],
        any: &["recipientnotfound", "recipient not found"],
        example: "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup",
        ..RULE
    },
    // Directory-based edge blocking: the tenant does not know the recipient (IANA 5.4.1: no answer).
    Rule {
        id: "ms.5.4.1-recipient-access-denied",
        category: MailboxUnknown,
        codes: &["x.4.1"],
        any: &["recipient address rejected: access denied"],
        example: "550 5.4.1 Recipient address rejected: Access denied. AS(201806281) [XXX.prod.protection.outlook.com]",
        ..RULE
    },
    // Outlook throttles new or low-reputation IPs with these; KumoMTA slows to 1 msg/min for 90 min.
    Rule {
        id: "ms.4.7.650-ip-reputation-rate-limit",
        category: RateLimited,
        reputation: true,
        codes: &["4.7.650", "4.7.651"],
        example: "451 4.7.650 The mail server [192.0.2.25] has been temporarily rate limited due to IP reputation.",
        ..RULE
    },
    Rule {
        id: "ms.4.7.500-server-busy",
        category: RateLimited,
        reputation: true,
        codes: &["4.7.500"],
        example: "451 4.7.500 Server busy. Please try again later from [192.0.2.2]. (S77714) [XXX.prod.protection.outlook.com]",
        ..RULE
    },
    Rule {
        id: "ms.4.7.700-agent-busy",
        category: SystemError,
        codes: &["4.7.700"],
        example: "451 4.7.700 PFA agent busy, please try again. [***.***.prod.protection.outlook.com]",
        ..RULE
    },
    Rule {
        id: "ms.5.7.6xx-banned-sending-ip",
        category: ReputationBlocked,
        codes: &["5.7.6??"],
        example: "550 5.7.606 Access denied, banned sending IP [192.0.2.1]. To request removal from this list please visit https://sender.office.com/",
        ..RULE
    },
    Rule {
        id: "ms.5.7.703-tenant-block-list",
        category: PolicyRejected,
        codes: &["5.7.703"],
        example: "550 5.7.703 Your message can't be delivered because messages to <recipients> are blocked by your organization using Tenant Allow Block List.",
        ..RULE
    },
    Rule {
        id: "ms.5.7.7xx-tenant-or-ip-blocked",
        category: ReputationBlocked,
        codes: &["5.7.705", "5.7.708", "5.7.750"],
        example: "550 5.7.708 Service unavailable. Access denied, traffic not accepted from this IP.",
        ..RULE
    },
    Rule {
        id: "ms.s3150-network-block-list",
        category: ReputationBlocked,
        any: &["(s3140)", "(s3150)", "weren't sent"],
        example: "550 5.7.1 Unfortunately, messages from [192.0.2.1] weren't sent. Please contact your Internet service provider since part of their network is on our block list (S3150).",
        ..RULE
    },
    Rule {
        id: "ms.5.7.5xx-sender-authentication",
        category: AuthFailed,
        codes: &["5.7.509", "5.7.515"],
        example: "550 5.7.509 Access denied, sending domain [example.com] does not pass DMARC verification and has a DMARC policy of reject.",
        ..RULE
    },
    Rule {
        id: "ms.5.7.64-tenant-attribution-relay",
        category: RelayDenied,
        any: &["tenantattribution"],
        example: "550 5.7.64 TenantAttribution; Relay Access Denied",
        ..RULE
    },
    Rule {
        id: "ms.5.7.57-anonymous-client",
        category: ProtocolError,
        codes: &["5.7.57"],
        example: "530 5.7.57 SMTP; Client was not authenticated to send anonymous mail during MAIL FROM",
        ..RULE
    },
    Rule {
        id: "ms.4.3.2-recipient-thread-limit",
        category: RateLimited,
        any: &["thread limit exceeded"],
        example: "432 4.3.2 STOREDRV.Deliver; recipient thread limit exceeded",
        ..RULE
    },
    // --- Google. Reference: support.google.com/a/answer/3726730 (SMTP error messages).
    // A Google Groups notice (the group may not exist, or the sender may not post to it) comes in the
    // sender's language; its help link is the one part every translation keeps.
    Rule {
        id: "googlegroups.cannot-post",
        category: PolicyRejected,
        any: &["groups.google.com/support"],
        example: "Hallo kijitora@example.jp, Sie erhalten diese E-Mail, weil die Gruppe, die Sie kontaktieren möchten (libsisimai), möglicherweise nicht vorhanden ist bzw. Sie nicht die erforderlichen Berechtigungen haben, um der Gruppe Nachrichten zu posten. … https://groups.google.com/support/.",
        ..RULE
    },
    // An inactive mailbox that also ran out of space: KumoMTA's InactiveMailbox; nobody will read it.
    Rule {
        id: "gmail.overquotaperm-inactive",
        category: MailboxDisabled,
        any: &["overquotaperm", "out of storage space and inactive"],
        example: "552 5.2.2 The recipient's inbox is out of storage space and inactive. Please direct the recipient to https://support.google.com/mail/?p=OverQuotaPerm",
        ..RULE
    },
    // Gmail's 4.2.1 is "receiving mail too fast" (IANA 4.2.1: mailbox disabled).
    Rule {
        id: "gmail.4.2.1-recipient-rate",
        category: RateLimited,
        codes: &["4.2.1"],
        any: &["receiving mail", "relay limit"],
        example: "450 4.2.1 The user you are trying to contact is receiving mail too quickly. Please resend your message at a later time.",
        ..RULE
    },
    Rule {
        id: "gmail.relay-limit-exceeded",
        category: RateLimited,
        any: &["smtp relay limit exceeded"],
        example: "550 5.4.5 Daily SMTP relay limit exceeded for user. For more information on SMTP relay sending limits please contact your administrator",
        ..RULE
    },
    // 4.7.28: the sender's rate of spam-like mail. Gmail lists the IP, DKIM and SPF domains it rated, so
    // this must run before the SPF/DKIM text rule.
    Rule {
        id: "gmail.4.7.28-unusual-rate",
        category: RateLimited,
        reputation: true,
        any: &["unusual rate of"],
        example: "421 4.7.28 [x.xx.xx.xx] Our system has detected an unusual rate of unsolicited mail originating from your IP address.",
        ..RULE
    },
    // Same 4.7.28 as the rate limit, but about one message sent too often, not the sender's rate.
    Rule {
        id: "gmail.4.7.28-duplicate-message-id",
        category: PolicyRejected,
        any: &["same message-id"],
        example: "421 4.7.28 Gmail has detected this message exceeded its quota for sending messages with the same Message-ID:. To best protect our users, the message has been temporarily rejected.",
        ..RULE
    },
    Rule {
        id: "gmail.4.5.3-domain-policy-size",
        category: SystemError,
        any: &["domain policy size"],
        example: "452 4.5.3 Domain policy size per transaction exceeded, please try this recipient in a separate transaction.",
        ..RULE
    },
    // Gmail's DoS deferral at HELO: the sending IP is being pushed back, not merely paced.
    // support.google.com/a/answer/3221692: "421 4.7.0 Try again later, closing connection. This usually
    // indicates a Denial of Service (DoS) for the SMTP relay at the HELO stage."
    Rule {
        id: "gmail.4.7.0-dos-closing-connection",
        category: ReputationBlocked,
        codes: &["4.7.0"],
        any: &["try again later, closing connection"],
        example: "421 4.7.0 Try again later, closing connection. This usually indicates a Denial of Service (DoS) for the SMTP relay at the HELO stage. https://support.google.com/a/answer/3221692",
        ..RULE
    },
    // Gmail's "Send mail as" alias whose SMTP settings no longer authorise it: the sender is refused.
    // sisimai set-of-emails maildir/bsd (sisimai_pairs.tsv, label `rejected`); Gmail's help page
    // https://support.google.com/mail/?p=CustomFromDenied.
    Rule {
        id: "gmail.custom-from-denied",
        category: SenderRejected,
        any: &["customfromdenied", "'send mail as'"],
        example: "** Message not delivered ** You're sending this from a different address or alias using the 'Send mail as' feature. The settings for your 'Send mail as' account are misconfigured or out of date. Check those settings and try resending. Learn more here: https://support.google.com/mail/?p=CustomFromDenied The response was:",
        ..RULE
    },
    Rule {
        id: "gmail.workspace-sending-denied",
        category: SenderRejected,
        any: &["mail sending denied"],
        example: "550 5.7.0 Mail Sending denied. This error occurs if the sender account is disabled or not registered within your Google Workspace domain.",
        ..RULE
    },
    // --- Yahoo / AOL / Verizon Media. Reference: senders.yahooinc.com/error-codes.
    Rule {
        id: "yahoo.tss04-deferred-volume",
        category: RateLimited,
        reputation: true,
        any: &["[tss04]", "[ipts04]", "[ts02]", "[tss05]"],
        example: "421 4.7.0 [TSS04] Messages from 192.0.2.25 temporarily deferred due to unexpected volume or user complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes",
        ..RULE
    },
    // "Retrying will NOT succeed": a reputation block, even under a 421.
    Rule {
        id: "yahoo.permanently-deferred",
        category: ReputationBlocked,
        any: &["permanently deferred"],
        example: "553 5.7.2 [TSS09] All messages from 192.0.2.25 will be permanently deferred; Retrying will NOT succeed.",
        ..RULE
    },
    // Yahoo's 5.7.9 is a policy rejection (IANA 5.7.9: authentication mechanism too weak).
    Rule {
        id: "yahoo.5.7.9-policy-reasons",
        category: PolicyRejected,
        codes: &["5.7.9"],
        any: &["policy reasons"],
        example: "554 5.7.9 Message not accepted for policy reasons. See https://postmaster.yahooinc.com/error-codes",
        ..RULE
    },
    // Yahoo answers an unknown mailbox with 552 and no enhanced code (RFC 5321 552: storage exceeded).
    Rule {
        id: "yahoo.552-mailbox-not-found",
        category: MailboxUnknown,
        codes: &["552"],
        any: &["mailbox not found"],
        example: "552 1 Requested mail action aborted, mailbox not found (in reply to end of DATA command)",
        ..RULE
    },
    Rule {
        id: "yahoo.dd-no-account",
        category: MailboxUnknown,
        any: &["doesn't have a yahoo"],
        example: "554 delivery error: dd This user doesn't have a yahoo.com account (***@yahoo.com)",
        ..RULE
    },
    Rule {
        id: "yahoo.unresolvable-from-domain",
        category: SenderRejected,
        any: &["unresolvable rfc.5321 from domain"],
        example: "451 Message temporarily deferred due to unresolvable RFC.5321 from domain. See https://senders.yahooinc.com/error-codes//unresolvable-from-domain",
        ..RULE
    },
    // Verizon's legacy `VSnn-IP` tags block the sending IP.
    Rule {
        id: "verizon.vs-ip-blocked",
        category: ReputationBlocked,
        any: &["-ip"],
        all: &["vs"],
        regex: Some(r"\bvs\d+-ip"),
        example: "451 VS1-IP Excessive unknown recipients - possible Open Relay (#4.1.8)",
        ..RULE
    },
    // --- Apple iCloud. Reference: support.apple.com/en-us/HT204137.
    Rule {
        id: "apple.hcm1-deferred",
        category: RateLimited,
        reputation: true,
        any: &["[hcm1]"],
        example: "421 [HCM1] Your mail from 192.0.2.1 was deferred.",
        ..RULE
    },
    Rule {
        id: "apple.cs-local-policy",
        category: PolicyRejected,
        any: &["[cs01]", "[cs02]"],
        example: "550 5.7.1 [CS01] Message rejected due to local policy. Please visit https://support.apple.com/en-us/HT204137",
        ..RULE
    },
    Rule {
        id: "apple.not-accepting-connections",
        category: ReputationBlocked,
        any: &["esmtp not accepting connections"],
        example: "554 ****-smtpin001.me.com ESMTP not accepting connections",
        ..RULE
    },
    // --- Orange / Wanadoo (OFR…) and La Poste (LPN…). Reference: postmaster.orange.fr, postmaster.laposte.net.
    // Orange puts a full mailbox under 5.1.1.
    Rule {
        id: "orange.mailbox-full",
        category: MailboxFull,
        any: &["boite du destinataire pleine"],
        example: "552 5.1.1 Boite du destinataire pleine.",
        ..RULE
    },
    Rule {
        id: "orange.mailbox-archived-or-blocked",
        category: MailboxDisabled,
        any: &["boite du destinataire archivee", "compte du destinataire est bloque"],
        example: "550 5.5.0 Le compte du destinataire est bloque. The recipient account isblocked. LPN007_426 (in reply to RCPT TO command)",
        ..RULE
    },
    Rule {
        id: "orange.invalid-recipient",
        category: MailboxUnknown,
        any: &["destinataire invalide"],
        example: "550 5.5.0 Adresse destinataire invalide. Invalid recipient. LPN007_416",
        ..RULE
    },
    Rule {
        id: "orange.mail-rejected-506",
        category: SpamContent,
        any: &["ofr_506"],
        example: "SMTP error from remote mail server after end of data: host smtp.wanadoo.fr [192.0.2.1]: 550 5.2.0 Mail rejete. Mail rejected. OFR_506 [506]",
        ..RULE
    },
    // "Service refuse" with the _505 code is Orange's own overload after DATA; other codes block the IP.
    Rule {
        id: "orange.service-refused-505",
        category: SystemError,
        any: &["_505"],
        all: &["service refuse"],
        example: "421 4.2.0 Service refuse. Veuillez essayer plus tard. Service refused, please try later. OFR005_505 [505] (in reply to end of DATA command)",
        ..RULE
    },
    Rule {
        id: "orange.service-refused",
        category: ReputationBlocked,
        any: &["service refuse", "ont ete bloques", "ip source bloquee"],
        example: "550 mwinf5c04 ME Adresse IP source bloquee pour incident de spam.",
        ..RULE
    },
    Rule {
        id: "orange.too-many-connections",
        category: RateLimited,
        any: &["trop de connexions"],
        example: "421 mwinf5c79 ME Trop de connexions, veuillez verifier votre configuration.",
        ..RULE
    },
    Rule {
        id: "laposte.mail-from-not-owned",
        category: SenderRejected,
        any: &["mail from not owned by user"],
        example: "5.5.3 Mail from not owned by user. LPN105_421.",
        ..RULE
    },
    // --- GoDaddy (secureserver.net). Reference: godaddy.com/help/7599 (IBxxx bounce codes).
    // Blocked for sending too much spam-like mail: a volume limit that also judges the sender.
    Rule {
        id: "godaddy.ib-spam-volume",
        category: RateLimited,
        reputation: true,
        any: &["ib110", "ib111"],
        example: "554 This IP has been temporarily blocked for attempting to send too many messages containing content judged to be spam by the Internet community. IB110",
        ..RULE
    },
    Rule {
        id: "godaddy.ib-sending-limits",
        category: RateLimited,
        any: &["ib101", "ib504", "ib510", "ib605", "ib607"],
        example: "550 This IP has sent too many messages this hour. IB504",
        ..RULE
    },
    Rule {
        id: "godaddy.ib-invalid-recipients-block",
        category: ReputationBlocked,
        any: &["ib112", "ib113"],
        example: "554 This IP has been temporarily blocked for attempting to mail too many invalid recipients. IB112",
        ..RULE
    },
    Rule {
        id: "godaddy.ib-invalid-from",
        category: ContentInvalid,
        any: &["ib501", "ib502"],
        example: "550 jane@coolexample.com Blank From: addresses are not allowed. Provide a valid From. IB501",
        ..RULE
    },
    // --- Cox and Spectrum put an AUP code after a generic "sender rejected".
    Rule {
        id: "cox.aup-rbl",
        category: ReputationBlocked,
        any: &["aup#cdrbl"],
        example: "550 5.1.0 <bounce@mailer.cnt1.example.com> sender rejected. Refer to Error Codes section at https://www.cox.com/residential/support/email-error-codes.html for more information. AUP#CDRBL",
        ..RULE
    },
    Rule {
        id: "spectrum.aup-volume",
        category: RateLimited,
        any: &["aup#in-13"],
        example: "550 5.1.0 <0100@amazonses.com> sender rejected. Please see https://www.spectrum.net/support/internet/understanding-email-error-codes for more information. AUP#In-1310",
        ..RULE
    },
    // --- QQ (Tencent).
    Rule {
        id: "qq.frequency-limited",
        category: RateLimited,
        any: &["frequency limited"],
        example: "550 Ip frequency limited [V2VkIEFwciAgMyAxNjozNjo1OSBKU1QgMjAxOQo= Blocked IP 192.0.2.22]. http://service.mail.qq.com/cgi-bin/help?subtype=1&&id=20022&&no=1000725",
        ..RULE
    },
    // --- NTT Docomo rejects mail its subscriber filters out with "Unknown user" after DATA: the
    //     recipient exists (it answered RCPT TO), the sender is unwanted.
    Rule {
        id: "docomo.unknown-user-after-data",
        category: SenderRejected,
        any: &["docomo.ne.jp"],
        all: &["unknown user"],
        stage: Some(Stage::Data),
        example: "host mfsmax.docomo.ne.jp[203.138.180.240] said: 550 Unknown user azumakuniyuki@ntt.docomo.example.ne.jp (in reply to end of DATA command)",
        ..RULE
    },
    // --- Zoho.
    Rule {
        id: "zoho.flagged-spam-at-rcpt",
        category: SenderRejected,
        any: &["email flagged as spam"],
        stage: Some(Stage::RcptTo),
        example: "host smtpin.zoho.com[204.141.33.23] said: 554 5.7.1 Email cannot be delivered. Reason: Email flagged as Spam. (in reply to RCPT TO command)",
        ..RULE
    },
    Rule {
        id: "zoho.rejected-by-destination-domain",
        category: SenderRejected,
        any: &["mail rejected by destination domain"],
        example: "541 5.4.1 Mail rejected by destination domain",
        ..RULE
    },
    // --- Symantec MessageLabs answers unknown recipients with a bare 542.
    Rule {
        id: "messagelabs.542-rejected",
        category: MailboxUnknown,
        codes: &["542"],
        any: &["rejected"],
        example: "542 kijitora@example.com Rejected",
        ..RULE
    },
    Rule {
        id: "messagelabs.smtp-auth-required",
        category: PolicyRejected,
        any: &["turn on smtp authentication"],
        example: "Please turn on SMTP Authentication in your mail client. mail0.bemta0.messagelabs.com [198.51.100.21]:11111 is not permitted to",
        ..RULE
    },
    // --- Mimecast.
    Rule {
        id: "mimecast.host-network-not-allowed",
        category: PolicyRejected,
        any: &["host network not allowed"],
        example: "554 Host network not allowed - https://community.mimecast.com/docs/DOC-1369#554",
        ..RULE
    },
    // --- i.ua.
    Rule {
        id: "iua.mailbox-frozen",
        category: MailboxDisabled,
        any: &["mailbox is frozen"],
        example: "550 Mailbox is frozen. See http://mail.i.ua/err/3/",
        ..RULE
    },
    // --- ImprovMX, the forwarding service, tags each of its own refusals with `#id-5.9.N` under a 5.7.1
    //     that says nothing (reference: ImprovMX's "Error Codes" guide,
    //     improvmx-website.pages.dev/guides/improvmx-error-codes). The examples use the guide's own words.
    Rule {
        id: "improvmx.5.9.0-1-loop-or-bounce",
        category: SystemError,
        any: &["#id-5.9.0", "#id-5.9.1"],
        example: "550 5.7.1 Loop Detection - Email is sent and forwarded from/to improvmx.com. (#id-5.9.0)",
        ..RULE
    },
    Rule {
        id: "improvmx.5.9.2-domain-not-found",
        category: DomainNotFound,
        any: &["#id-5.9.2"],
        example: "550 5.7.1 Domain Not Found (#id-5.9.2)",
        ..RULE
    },
    // "Database Error" and "Forwarding Configuration Issue": ImprovMX's own records about the domain.
    Rule {
        id: "improvmx.5.9.3-5-forwarding-configuration",
        category: SystemError,
        any: &["#id-5.9.3", "#id-5.9.5"],
        example: "550 5.7.1 Database Error - Our database returned invalid or corrupted data about the requested recipient's domain (#id-5.9.3)",
        ..RULE
    },
    // "Anti-Spam Failure … The sender should retry transmission": under a 4xx a check that a retry
    // passes, which is what greylisting is; under a 5xx a spam verdict.
    Rule {
        id: "improvmx.4.x-5.9.4-retry-check",
        category: Greylisted,
        codes: &["4??"],
        any: &["#id-5.9.4"],
        example: "451 4.7.1 Anti-Spam Failure - The sender should retry transmission (#id-5.9.4)",
        ..RULE
    },
    Rule {
        id: "improvmx.5.9.4-anti-spam",
        category: SpamContent,
        any: &["#id-5.9.4"],
        example: "550 5.7.1 Anti-Spam Failure - The message failed our anti-spam security check (#id-5.9.4)",
        ..RULE
    },
    // --- qmail's "trouble in home directory" is what qq/qmail hosts say when the mailbox cannot grow.
    Rule {
        id: "qmail.trouble-in-home-directory",
        category: MailboxFull,
        any: &["trouble in home directory"],
        example: "451 qq trouble in home directory",
        ..RULE
    },
];
